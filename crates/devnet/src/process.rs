//! Stopping child processes the devnet started: SIGTERM, a grace period, then SIGKILL, and always
//! reaped, so no zombie or orphan is left behind.

use std::process::Child;
use std::time::{Duration, Instant};

use nix::sys::signal::{self, Signal};
use nix::unistd::Pid;

/// Sends SIGTERM to `child`, waits up to `grace` for it to exit, then kills it; returns once it
/// has been reaped. A child that already exited is only reaped.
pub fn terminate(child: &mut Child, grace: Duration) {
    if matches!(child.try_wait(), Ok(Some(_))) {
        return;
    }
    if let Ok(raw) = i32::try_from(child.id()) {
        // ESRCH (already gone) is fine: the wait below reaps it.
        let _ = signal::kill(Pid::from_raw(raw), Signal::SIGTERM);
    }
    let started = Instant::now();
    while started.elapsed() < grace {
        if matches!(child.try_wait(), Ok(Some(_)) | Err(_)) {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    // Nothing to report: the process is gone either way once killed and waited for.
    let _ = child.kill();
    let _ = child.wait();
}
