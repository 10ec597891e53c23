//! The `devnet` binary as a user runs it: `up` in the foreground, `down` from another process,
//! SIGTERM, a crashed anvil, and the installer's message when npm is missing. No test leaves a
//! process behind.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use devnet::anvil::process_running;
use devnet::{Chain, Manifest, PidFile};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

const DEVNET: &str = env!("CARGO_BIN_EXE_devnet");

/// A temporary folder removed on drop.
struct Folder(PathBuf);

impl Folder {
    fn new(name: &str) -> Self {
        let path = std::env::temp_dir().join(format!("devnet-cli-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }
}

impl Drop for Folder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A `devnet up` child, killed (with its anvil) if the test fails half-way.
struct Up {
    child: Option<Child>,
    dir: PathBuf,
}

impl Up {
    /// Starts the chain part only (no Matrix, no PFS) of `devnet up`.
    fn start(dir: &Path, nodes: usize) -> Self {
        Self::start_with(dir, nodes, &["--homeservers", "0", "--no-pfs"])
    }

    /// Starts `devnet up` with `arguments` in a process group of its own, as a shell does for a
    /// foreground job.
    fn start_with(dir: &Path, nodes: usize, arguments: &[&str]) -> Self {
        let child = Command::new(DEVNET)
            .args(["up", "--nodes", &nodes.to_string(), "--dir"])
            .arg(dir)
            .args(arguments)
            .process_group(0)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut up = Self { child: Some(child), dir: dir.to_path_buf() };
        let started = Instant::now();
        while PidFile::read(dir).ok().flatten().is_none() || !dir.join("devnet.json").exists() {
            if let Some(status) = up.child.as_mut().and_then(|child| child.try_wait().unwrap()) {
                panic!("devnet up exited early ({status})");
            }
            assert!(started.elapsed() < Duration::from_secs(120), "devnet up did not come up");
            std::thread::sleep(Duration::from_millis(20));
        }
        up
    }

    fn pids(&self) -> PidFile {
        PidFile::read(&self.dir).unwrap().unwrap()
    }

    fn wait(mut self) -> Output {
        let mut child = self.child.take().expect("waited once");
        let started = Instant::now();
        while child.try_wait().unwrap().is_none() {
            assert!(started.elapsed() < Duration::from_secs(60), "devnet up did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
        child.wait_with_output().unwrap()
    }
}

impl Drop for Up {
    fn drop(&mut self) {
        if let Ok(Some(pids)) = PidFile::read(&self.dir) {
            let _ = devnet::anvil::stop_process(pids.devnet, "devnet");
            if let Some(anvil) = pids.anvil {
                let _ = devnet::anvil::stop_process(anvil, "anvil");
            }
            for child in pids.processes {
                let _ = devnet::anvil::stop_process(child.pid, &child.name);
            }
        }
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The process group of `pid` (field 5 of /proc/PID/stat).
fn process_group(pid: u32) -> u32 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after_name = stat.rsplit_once(')').unwrap().1;
    after_name.split_whitespace().nth(2).unwrap().parse().unwrap()
}

fn run(arguments: &[&str], dir: &Path) -> Output {
    Command::new(DEVNET).args(arguments).arg("--dir").arg(dir).output().unwrap()
}

#[tokio::test]
async fn up_writes_the_manifest_and_down_stops_every_process() {
    let folder = Folder::new("up-down");
    let up = Up::start(&folder.0, 4);
    let pids = up.pids();
    let anvil = pids.anvil.expect("the pid file names anvil");
    assert!(process_running(anvil, "anvil"));

    let manifest = Manifest::read(&folder.0).unwrap();
    assert_eq!(manifest.nodes.len(), 4);
    assert_eq!(manifest.chain_id, 31337);
    let chain = Chain::connect(&manifest.eth_rpc).await.unwrap();
    assert_eq!(chain.chain_id(), manifest.chain_id);
    let code =
        alloy::providers::Provider::get_code_at(chain.provider(), manifest.contracts.token_network).await;
    assert!(!code.unwrap().is_empty());

    let down = run(&["down"], &folder.0);
    assert!(down.status.success(), "{}", String::from_utf8_lossy(&down.stderr));
    let output = up.wait();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(!process_running(anvil, "anvil"));
    assert!(!process_running(pids.devnet, "devnet"));
    assert!(PidFile::read(&folder.0).unwrap().is_none());
    assert!(Chain::connect(&manifest.eth_rpc).await.is_err());
}

/// The raiden-pfs binary cargo builds next to this one (`cargo test --workspace` builds it).
fn raiden_pfs_binary() -> PathBuf {
    let binary = Path::new(DEVNET).with_file_name("raiden-pfs");
    assert!(
        binary.is_file(),
        "{} is missing: run `cargo build -p raiden-pfs` (or `cargo test --workspace`) first",
        binary.display()
    );
    binary
}

#[tokio::test]
async fn up_with_matrix_and_the_pfs_fills_the_manifest_and_down_leaves_no_process() {
    let folder = Folder::new("full-stack");
    let binary = raiden_pfs_binary();
    let up = Up::start_with(&folder.0, 4, &["--homeservers", "2", "--pfs-binary", binary.to_str().unwrap()]);
    let pids = up.pids();
    // Two homeservers and the PFS besides anvil, each under its own command name.
    assert_eq!(pids.processes.len(), 3, "{pids:?}");
    assert!(pids.processes.iter().any(|child| child.name == "raiden-pfs"));
    for child in &pids.processes {
        assert!(process_running(child.pid, &child.name), "{child:?} runs");
    }

    let manifest = Manifest::read(&folder.0).unwrap();
    assert_eq!(manifest.matrix_servers.len(), 2);
    let pfs_url = manifest.pfs_url.clone().expect("pfs_url");
    assert!(manifest.pfs_db.as_deref().is_some_and(|url| url.starts_with("sqlite:///")));
    for (index, node) in manifest.nodes.iter().enumerate() {
        assert_eq!(node.matrix_server.as_ref(), Some(&manifest.matrix_servers[index % 2]));
        let user_id = node.user_id.as_deref().expect("user_id");
        assert!(user_id.starts_with(&format!("@{:#x}:", node.address)), "{user_id}");
    }
    let info: serde_json::Value =
        reqwest::get(format!("{pfs_url}/api/v1/info")).await.unwrap().json().await.unwrap();
    assert_eq!(info["payment_address"], manifest.pfs_address.unwrap().to_checksum(None));

    let down = run(&["down"], &folder.0);
    assert!(down.status.success(), "{}", String::from_utf8_lossy(&down.stderr));
    let output = up.wait();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    for child in &pids.processes {
        assert!(!process_running(child.pid, &child.name), "{child:?} still runs");
    }
    assert!(!process_running(pids.anvil.unwrap(), "anvil"));
    // Nothing is left that was started from this folder (ps lists every process's command line).
    let ps = Command::new("ps").args(["-eo", "pid,args"]).output().unwrap();
    let leftovers: Vec<String> = String::from_utf8_lossy(&ps.stdout)
        .lines()
        .filter(|line| line.contains(folder.0.to_str().unwrap()))
        .filter(|line| !line.contains(" ps "))
        .map(str::to_owned)
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn sigterm_stops_up_and_its_anvil() {
    let folder = Folder::new("sigterm");
    let up = Up::start(&folder.0, 0);
    let pids = up.pids();
    kill(Pid::from_raw(pids.devnet as i32), Signal::SIGTERM).unwrap();
    let output = up.wait();
    assert!(output.status.success());
    assert!(String::from_utf8_lossy(&output.stdout).contains("devnet stopped (SIGTERM)"));
    assert!(!process_running(pids.anvil.unwrap(), "anvil"));
}

#[test]
fn ctrl_c_in_the_terminal_stops_up_and_its_anvil() {
    let folder = Folder::new("ctrl-c");
    let up = Up::start(&folder.0, 0);
    let pids = up.pids();
    // anvil has a group of its own, so the Ctrl-C reaches only `devnet up`, which stops it.
    assert_ne!(process_group(pids.anvil.unwrap()), process_group(pids.devnet));
    // A terminal sends SIGINT to the whole foreground process group.
    nix::sys::signal::killpg(Pid::from_raw(pids.devnet as i32), Signal::SIGINT).unwrap();
    let output = up.wait();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("devnet stopped (Ctrl-C)"), "{stdout}");
    assert!(!process_running(pids.anvil.unwrap(), "anvil"));
}

#[test]
fn a_crashed_anvil_is_reported_and_up_fails() {
    let folder = Folder::new("crash");
    let up = Up::start(&folder.0, 0);
    kill(Pid::from_raw(up.pids().anvil.unwrap() as i32), Signal::SIGKILL).unwrap();
    let output = up.wait();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("anvil exited unexpectedly"), "{stderr}");
}

#[test]
fn a_crashed_pfs_is_reported_and_up_fails() {
    let folder = Folder::new("pfs-crash");
    let binary = raiden_pfs_binary();
    let up = Up::start_with(&folder.0, 2, &["--homeservers", "0", "--pfs-binary", binary.to_str().unwrap()]);
    let pids = up.pids();
    let pfs = pids.processes.iter().find(|child| child.name == "raiden-pfs").expect("the PFS runs");
    kill(Pid::from_raw(pfs.pid as i32), Signal::SIGKILL).unwrap();
    let output = up.wait();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("the PFS exited unexpectedly (signal: 9 (SIGKILL)); its log is"), "{stderr}");
    assert!(!process_running(pids.anvil.unwrap(), "anvil"));
}

#[test]
fn a_second_up_in_the_same_folder_is_refused() {
    let folder = Folder::new("twice");
    let _up = Up::start(&folder.0, 0);
    let second = run(&["up", "--nodes", "0"], &folder.0);
    assert!(!second.status.success());
    assert!(String::from_utf8_lossy(&second.stderr).contains("already runs"));
}

#[test]
fn down_without_a_running_devnet_says_so() {
    let folder = Folder::new("nothing");
    let output = run(&["down"], &folder.0);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("no devnet runs in"));
}

/// `devnet install` into `devtools` with a PATH on which no program exists.
fn install_with_empty_path(devtools: &Path) -> Output {
    Command::new(DEVNET)
        .arg("install")
        .env("RAIDEN_PFS_DEVTOOLS", devtools)
        .env("PATH", devtools.join("empty"))
        .output()
        .unwrap()
}

#[test]
fn install_without_npm_says_what_to_install() {
    let folder = Folder::new("no-npm");
    let output = install_with_empty_path(&folder.0);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("`npm` does not run here (not on PATH?); install Node.js with npm"), "{stderr}");
}

#[test]
fn install_without_pip_says_what_to_install() {
    // anvil is already in place (the real binary, linked), so only the contracts need pip.
    let installed = devnet::Devtools::from_env();
    installed.install().unwrap();
    let folder = Folder::new("no-pip");
    let devtools = devnet::Devtools::at(&folder.0);
    let anvil = devtools.anvil_path().unwrap();
    std::fs::create_dir_all(anvil.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(installed.anvil_path().unwrap(), &anvil).unwrap();
    let output = install_with_empty_path(&folder.0);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("`python3 -m pip` does not run here (not on PATH?); install Python 3 with pip"),
        "{stderr}"
    );
}
