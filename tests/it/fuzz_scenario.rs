//! Property tests: the loader never panics, whatever the input.

use std::path::Path;

use backupsim::scenario::load_str;
use proptest::prelude::*;

const QUICKSTART: &str = include_str!("../../scenarios/quickstart.toml");

fn mutate(src: &str, cut_at: usize, cut_len: usize, insert: &str) -> String {
    let mut at = cut_at % (src.len() + 1);
    while !src.is_char_boundary(at) {
        at -= 1;
    }
    let mut end = (at + cut_len).min(src.len());
    while !src.is_char_boundary(end) {
        end += 1;
    }
    format!("{}{}{}", &src[..at], insert, &src[end..])
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn random_text_never_panics(s in "\\PC{0,300}") {
        let _ = load_str(&s, Path::new("random.toml"), &[]);
    }

    #[test]
    fn mutated_scenarios_never_panic(
        at in 0usize..4000,
        len in 0usize..40,
        insert in prop::sample::select(vec!["", "=", "\"", "[", "]]", "{", "-1", "0", "1e308", "\"-3s\"", "\"0 B\"", "nan", "{ dist = \"pareto\", shape = 0.5, scale = \"1s\" }", "[[fleet]]\n", "\n", "\"\\u0000\"", "count = 4294967295", "x = 1", "dist = \"empirical\""]),
    ) {
        let src = mutate(QUICKSTART, at, len, insert);
        let _ = load_str(&src, Path::new("mutated.toml"), &[]);
    }

    #[test]
    fn set_overrides_never_panic(key in "[a-z._-]{0,30}", value in "\\PC{0,20}") {
        let _ = load_str(QUICKSTART, Path::new("q.toml"), &[format!("{key}={value}")]);
    }
}

/// Valid scenarios with extreme but accepted values load and run without panicking.
#[test]
fn extreme_values_run() {
    for (from, to) in [
        ("count = 240", "count = 0"),
        ("duration = \"7d\"", "duration = \"2h\""),
        ("sample_every = \"15m\"", "sample_every = \"1d\""),
        (
            "daily_churn = { dist = \"lognormal\", mean = 0.03, sd = 0.02 }",
            "daily_churn = 1.0",
        ),
        ("bandwidth = \"10 Gbit/s\"", "bandwidth = \"1 bit/s\""),
    ] {
        let src = QUICKSTART.replace(from, to);
        let l = load_str(&src, Path::new("x.toml"), &[])
            .unwrap_or_else(|e| panic!("{from} -> {to}: {e}"));
        backupsim::model::run(&l.scenario).expect("no self-check fails on a valid scenario");
    }
}
