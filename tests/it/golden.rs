//! Golden output: the quickstart's summary, pinned. A change here is a change of results:
//! review the diff (`cargo insta review`, or set INSTA_UPDATE=always) and say why in the
//! commit.

use std::path::Path;

#[test]
fn quickstart_summary_is_pinned() {
    let l = backupsim::scenario::load(Path::new("scenarios/quickstart.toml"), &[]).unwrap();
    let out = backupsim::model::run(&l.config).unwrap();
    let text = serde_json::to_string_pretty(&out.summary).unwrap();
    insta::assert_snapshot!("quickstart_summary", text);
}
