//! The anvil process: start on a free loopback port, wait until it listens, stop and restart it
//! on the same port with its chain state, and kill it when the handle is dropped.
//!
//! Anvil is started with `--port 0`, so the kernel picks a free port and no other process can
//! take it between "probe" and "bind" (parallel tests would otherwise race); the chosen port is
//! read from anvil's `Listening on 127.0.0.1:PORT` line in its log. Every start uses
//! `--state <dir>/state.json`: anvil loads the file if it exists and writes the whole chain
//! (accounts, contracts, blocks) into it when it exits on SIGTERM, which is what an RPC-outage
//! test needs ([`Anvil::stop`] then [`Anvil::restart`]). `--auto-impersonate` lets any account
//! send transactions without its key, so contract calls keep their real `msg.sender`.

use std::fs::{self, File};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{self, Signal};
use nix::unistd::Pid;

/// How long anvil may take to listen after it was started.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long anvil may take to dump its state and exit after SIGTERM before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// Errors of the anvil process.
#[derive(Debug, thiserror::Error)]
pub enum AnvilError {
    /// A file-system operation or spawning failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path it was done on.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Anvil exited before it listened.
    #[error("anvil exited during start-up ({status}); last log lines:\n{log_tail}")]
    ExitedDuringStart {
        /// Its exit status.
        status: ExitStatus,
        /// The last lines of its log.
        log_tail: String,
    },
    /// Anvil did not listen within the start timeout.
    #[error("anvil did not listen within {0:?}")]
    StartTimeout(Duration),
    /// The operation needs a running anvil, or a stopped one.
    #[error("anvil is {0}")]
    WrongState(&'static str),
    /// Sending a signal failed.
    #[error("signal to pid {pid}: {source}")]
    Signal {
        /// The process id.
        pid: u32,
        /// The error from `kill(2)`.
        source: nix::Error,
    },
    /// A process did not exit after SIGTERM and SIGKILL.
    #[error("pid {0} did not exit")]
    StillRunning(u32),
}

/// A running (or deliberately stopped) anvil process owned by this handle.
///
/// Invariants: `port` is the port anvil listens on and is kept across [`Anvil::restart`];
/// while `child` is `Some` the process was started by this handle and has not been reaped.
/// Dropping the handle kills the process (SIGKILL) and waits for it.
#[derive(Debug)]
pub struct Anvil {
    binary: PathBuf,
    dir: PathBuf,
    port: u16,
    child: Option<Child>,
}

impl Anvil {
    /// Starts `binary` on a free port of 127.0.0.1 with its state and log in `dir` (created if
    /// missing), and waits until it listens.
    ///
    /// # Errors
    /// Spawning fails, anvil exits during start-up, or does not listen within 30 s.
    pub fn start(binary: &Path, dir: &Path) -> Result<Self, AnvilError> {
        fs::create_dir_all(dir).map_err(io_error("create", dir))?;
        let mut anvil = Self { binary: binary.to_path_buf(), dir: dir.to_path_buf(), port: 0, child: None };
        anvil.spawn(0)?;
        Ok(anvil)
    }

    /// The JSON-RPC endpoint, `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The port anvil listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The process id, or `None` while stopped.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The file anvil loads its chain from at start and dumps it into on exit.
    pub fn state_file(&self) -> PathBuf {
        self.dir.join("state.json")
    }

    /// The file anvil's standard output and error go to.
    pub fn log_file(&self) -> PathBuf {
        self.dir.join("anvil.log")
    }

    /// `Some(status)` if anvil has exited (a crash, or after [`Anvil::stop`]), `None` while it
    /// runs.
    ///
    /// # Errors
    /// Waiting on the process failed.
    pub fn exit_status(&mut self) -> Result<Option<ExitStatus>, AnvilError> {
        match self.child.as_mut() {
            None => Err(AnvilError::WrongState("stopped")),
            Some(child) => child.try_wait().map_err(io_error("wait for", &self.binary)),
        }
    }

    /// Stops anvil with SIGTERM and waits until it has written its chain state and exited; the
    /// port is then free until [`Anvil::restart`].
    ///
    /// # Errors
    /// Anvil is already stopped, or does not exit.
    pub fn stop(&mut self) -> Result<(), AnvilError> {
        let mut child = self.child.take().ok_or(AnvilError::WrongState("already stopped"))?;
        crate::process::terminate(&mut child, STOP_TIMEOUT);
        Ok(())
    }

    /// Starts anvil again on the same port from the state it dumped when it was stopped.
    ///
    /// # Errors
    /// Anvil is running, or the start fails (e.g. another process took the port meanwhile).
    pub fn restart(&mut self) -> Result<(), AnvilError> {
        if self.child.is_some() {
            return Err(AnvilError::WrongState("still running"));
        }
        self.spawn(self.port)
    }

    fn spawn(&mut self, port: u16) -> Result<(), AnvilError> {
        let log_path = self.log_file();
        let log = File::create(&log_path).map_err(io_error("create", &log_path))?;
        let log_err = log.try_clone().map_err(io_error("clone", &log_path))?;
        let mut child = Command::new(&self.binary)
            .args(["--host", "127.0.0.1", "--port", &port.to_string(), "--auto-impersonate", "--state"])
            .arg(self.state_file())
            .stdin(Stdio::null())
            // A process group of its own: a terminal's Ctrl-C reaches `devnet up`, which then
            // stops anvil, instead of killing anvil behind its back.
            .process_group(0)
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .map_err(io_error("spawn", &self.binary))?;
        let started = Instant::now();
        loop {
            let text = fs::read_to_string(&log_path).unwrap_or_default();
            if let Some(listening) = listening_port(&text) {
                self.port = listening;
                self.child = Some(child);
                return Ok(());
            }
            if let Some(status) = child.try_wait().map_err(io_error("wait for", &self.binary))? {
                return Err(AnvilError::ExitedDuringStart { status, log_tail: tail(&text, 20) });
            }
            if started.elapsed() > START_TIMEOUT {
                // Best effort: the start already failed, the kill result adds nothing.
                let _ = child.kill();
                let _ = child.wait();
                return Err(AnvilError::StartTimeout(START_TIMEOUT));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Anvil {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // Nothing to report to in a destructor; the process is gone either way.
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Stops a process that is not a child of this one (e.g. the anvil of a `devnet up` found
/// through its pid file): SIGTERM, then SIGKILL after 30 s, and waits until it is gone.
///
/// Returns `false` without signalling if no process with this pid runs, or if on Linux its
/// command name is not `expected_name` (the pid was reused by another program).
///
/// # Errors
/// Signalling fails, or the process survives SIGKILL.
pub fn stop_process(pid: u32, expected_name: &str) -> Result<bool, AnvilError> {
    let target = Pid::from_raw(i32::try_from(pid).map_err(|_| AnvilError::StillRunning(pid))?);
    if !process_running(pid, expected_name) {
        return Ok(false);
    }
    send(target, pid, Signal::SIGTERM)?;
    if wait_gone(target, STOP_TIMEOUT) {
        return Ok(true);
    }
    send(target, pid, Signal::SIGKILL)?;
    if wait_gone(target, Duration::from_secs(5)) { Ok(true) } else { Err(AnvilError::StillRunning(pid)) }
}

/// Whether a process with this pid runs and (on Linux) has the command name `expected_name`.
pub fn process_running(pid: u32, expected_name: &str) -> bool {
    i32::try_from(pid).is_ok_and(|raw| process_alive(Pid::from_raw(raw)))
        && process_name_matches(pid, expected_name)
}

fn send(target: Pid, pid: u32, signal: Signal) -> Result<(), AnvilError> {
    match signal::kill(target, signal) {
        Ok(()) | Err(nix::Error::ESRCH) => Ok(()),
        Err(source) => Err(AnvilError::Signal { pid, source }),
    }
}

fn process_alive(target: Pid) -> bool {
    // Signal "None" only checks that the process exists; a zombie counts as gone.
    signal::kill(target, None).is_ok() && !is_zombie(target.as_raw())
}

fn is_zombie(pid: i32) -> bool {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Field 3 of /proc/PID/stat, after the parenthesised command name, is the state letter.
    stat.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
}

fn process_name_matches(pid: u32, expected_name: &str) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/comm")) {
        Ok(comm) => comm.trim() == expected_name,
        // Without procfs (macOS) the name cannot be checked; trust the pid file.
        Err(_) => !Path::new("/proc/self").exists(),
    }
}

fn wait_gone(target: Pid, timeout: Duration) -> bool {
    let started = Instant::now();
    while started.elapsed() < timeout {
        if !process_alive(target) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

fn listening_port(log: &str) -> Option<u16> {
    log.lines().find_map(|line| line.trim().strip_prefix("Listening on 127.0.0.1:")?.trim().parse().ok())
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

fn io_error(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> AnvilError {
    let path = path.to_path_buf();
    move |source| AnvilError::Io { action, path, source }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listening_port_is_read_from_anvils_start_banner() {
        let log =
            "\n                             _   _\nBase Fee\n==========\n\nListening on 127.0.0.1:36043\n";
        assert_eq!(listening_port(log), Some(36043));
    }

    #[test]
    fn no_port_is_read_before_anvil_listens() {
        assert_eq!(listening_port("Available Accounts\n==================\n"), None);
    }
}
