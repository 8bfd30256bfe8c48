//! Signals: what an interrupted run or sweep leaves behind, and what it says.

/// Handles SIGINT (Ctrl-C) and SIGTERM (what Slurm sends before killing) the same way:
/// partial results are removed, a sweep says how far it got and how to resume, and the
/// process exits with 128 + the signal (130 or 143). Exiting closes every file, so the
/// system releases the sweep's locks (`outputs::sweeps::lock`).
pub fn handle_signals() {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM]) else {
        return;
    };
    std::thread::spawn(move || {
        if let Some(sig) = signals.forever().next() {
            let sweep = super::interrupt();
            crate::outputs::results::remove_in_flight();
            crate::status!(
                "{}",
                sweep.unwrap_or_else(|| "interrupted: no partial results were left behind".into())
            );
            std::process::exit(128 + sig);
        }
    });
}
