//! Installation of the external tools the devnet runs: the anvil binary (from npm) and the
//! compiled Raiden contracts 0.50.2 (`contracts.json`, from the raiden-contracts wheel on PyPI).
//!
//! Everything goes into one folder, `<workspace root>/.devtools/` (git-ignored) unless the
//! environment variable [`DEVTOOLS_ENV`] names another. Installation is idempotent and
//! offline-safe: a tool whose final file exists is never fetched again. Each tool is built in a
//! temporary folder and moved into place with one `rename`, so an interrupted install leaves no
//! half-installed tool behind, and an exclusive file lock (`install.lock`) serialises installers
//! running at the same time (parallel tests, several processes).

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Environment variable that overrides the tool folder (default `<workspace root>/.devtools`).
pub const DEVTOOLS_ENV: &str = "RAIDEN_PFS_DEVTOOLS";
/// The anvil release installed from npm.
pub const ANVIL_VERSION: &str = "1.7.1";
/// The raiden-contracts release whose compiled contracts are deployed.
pub const RAIDEN_CONTRACTS_VERSION: &str = "0.50.2";

/// Errors while installing or locating a tool.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    /// A program the installer needs is not on `PATH` or does not run.
    #[error("`{program}` does not run here (not on PATH?); install {hint} and retry")]
    MissingProgram {
        /// The program that was looked for.
        program: &'static str,
        /// What to install to get it.
        hint: &'static str,
    },
    /// A file-system operation failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path it was done on.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// An installer command ran but failed.
    #[error("`{command}` failed ({status}): {stderr}")]
    CommandFailed {
        /// The command line.
        command: String,
        /// Its exit status.
        status: std::process::ExitStatus,
        /// The tail of its standard error.
        stderr: String,
    },
    /// The installer finished, but the expected file is not where it should be.
    #[error("installation finished but {0} is missing")]
    MissingArtifact(PathBuf),
    /// No npm package of anvil exists for this platform.
    #[error("anvil is not packaged on npm for {os}/{arch}")]
    UnsupportedPlatform {
        /// `std::env::consts::OS`.
        os: &'static str,
        /// `std::env::consts::ARCH`.
        arch: &'static str,
    },
}

/// The tool folder and the paths of the installed tools in it.
///
/// Invariant: the paths are only valid to use after [`Devtools::install`] returned `Ok`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Devtools {
    root: PathBuf,
}

impl Devtools {
    /// The tool folder named by [`DEVTOOLS_ENV`], or `<workspace root>/.devtools`.
    pub fn from_env() -> Self {
        match std::env::var_os(DEVTOOLS_ENV) {
            Some(dir) if !dir.is_empty() => Self::at(PathBuf::from(dir)),
            _ => Self::at(workspace_root().join(".devtools")),
        }
    }

    /// A tool folder at `root` (created on install).
    pub fn at(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The tool folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Path of the anvil binary.
    ///
    /// # Errors
    /// [`InstallError::UnsupportedPlatform`] where npm has no anvil package.
    pub fn anvil_path(&self) -> Result<PathBuf, InstallError> {
        let package = anvil_package()?;
        Ok(self.anvil_dir().join("node_modules").join(package).join("bin").join("anvil"))
    }

    /// Path of raiden-contracts' `contracts.json`.
    pub fn contracts_json_path(&self) -> PathBuf {
        self.root.join(format!("raiden-contracts-{RAIDEN_CONTRACTS_VERSION}")).join("contracts.json")
    }

    fn anvil_dir(&self) -> PathBuf {
        self.root.join(format!("anvil-{ANVIL_VERSION}"))
    }

    /// Installs every tool that is not installed yet, and returns what was done.
    ///
    /// Takes an exclusive lock on `<root>/install.lock` for the whole call, so concurrent callers
    /// (threads or processes) install once and the others find the tools ready. Runs no program
    /// and needs no network when everything is installed.
    ///
    /// # Errors
    /// A missing `npm` or `python3 -m pip` (with a message saying what to install), a failing
    /// installer command, or a file-system error.
    pub fn install(&self) -> Result<InstallReport, InstallError> {
        fs::create_dir_all(&self.root).map_err(io_error("create", &self.root))?;
        let lock_path = self.root.join("install.lock");
        let lock = File::create(&lock_path).map_err(io_error("create", &lock_path))?;
        lock.lock().map_err(io_error("lock", &lock_path))?;
        let report = InstallReport {
            anvil_installed: self.install_anvil()?,
            contracts_installed: self.install_contracts()?,
        };
        // The lock is released when `lock` is dropped (also on the error paths above).
        drop(lock);
        Ok(report)
    }

    fn install_anvil(&self) -> Result<bool, InstallError> {
        let binary = self.anvil_path()?;
        if binary.is_file() {
            return Ok(false);
        }
        let package = anvil_package()?;
        require_program("npm", "npm", &["--version"], "Node.js with npm (e.g. `apt-get install -y npm`)")?;
        let staging = self.root.join(format!("anvil-{ANVIL_VERSION}.partial"));
        fresh_dir(&staging)?;
        // A package.json of its own keeps npm from walking up into an enclosing project.
        let manifest = staging.join("package.json");
        fs::write(&manifest, "{\"private\": true}\n").map_err(io_error("write", &manifest))?;
        run(Command::new("npm")
            .arg("install")
            .arg("--no-audit")
            .arg("--no-fund")
            .arg("--no-save")
            .arg("--prefix")
            .arg(&staging)
            .arg(format!("{package}@{ANVIL_VERSION}")))?;
        let staged_binary = staging.join("node_modules").join(package).join("bin").join("anvil");
        if !staged_binary.is_file() {
            return Err(InstallError::MissingArtifact(staged_binary));
        }
        rename(&staging, &self.anvil_dir())?;
        Ok(true)
    }

    fn install_contracts(&self) -> Result<bool, InstallError> {
        let target = self.contracts_json_path();
        if target.is_file() {
            return Ok(false);
        }
        require_program(
            "python3 -m pip",
            "python3",
            &["-m", "pip", "--version"],
            "Python 3 with pip (e.g. `apt-get install -y python3-pip`)",
        )?;
        let staging = self.root.join(format!("raiden-contracts-{RAIDEN_CONTRACTS_VERSION}.partial"));
        fresh_dir(&staging)?;
        let wheel_dir = staging.join("wheel");
        run(Command::new("python3")
            .args(["-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "--quiet"])
            .arg(format!("raiden-contracts=={RAIDEN_CONTRACTS_VERSION}"))
            .arg("-d")
            .arg(&wheel_dir))?;
        let wheel = wheel_dir.join(format!("raiden_contracts-{RAIDEN_CONTRACTS_VERSION}-py3-none-any.whl"));
        if !wheel.is_file() {
            return Err(InstallError::MissingArtifact(wheel));
        }
        // Python's own zipfile reads the wheel: pip needs Python anyway, and it spares the
        // workspace a zip crate.
        let staged = staging.join("contracts.json");
        run(Command::new("python3")
            .arg("-c")
            .arg(
                "import shutil, sys, zipfile\n\
                 with zipfile.ZipFile(sys.argv[1]) as wheel, wheel.open(sys.argv[2]) as source, \
                 open(sys.argv[3], 'wb') as target:\n    shutil.copyfileobj(source, target)\n",
            )
            .arg(&wheel)
            .arg("raiden_contracts/data/contracts.json")
            .arg(&staged))?;
        fs::remove_dir_all(&wheel_dir).map_err(io_error("remove", &wheel_dir))?;
        if !staged.is_file() {
            return Err(InstallError::MissingArtifact(staged));
        }
        let final_dir = target.parent().map(Path::to_path_buf).unwrap_or_else(|| self.root.clone());
        rename(&staging, &final_dir)?;
        Ok(true)
    }
}

/// What [`Devtools::install`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InstallReport {
    /// `true` if anvil was downloaded by this call, `false` if it was already there.
    pub anvil_installed: bool,
    /// `true` if `contracts.json` was downloaded by this call.
    pub contracts_installed: bool,
}

/// The workspace root: two levels above this crate's manifest.
pub fn workspace_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.parent().and_then(Path::parent).unwrap_or(manifest_dir).to_path_buf()
}

fn anvil_package() -> Result<&'static str, InstallError> {
    use std::env::consts::{ARCH, OS};
    match (OS, ARCH) {
        ("linux", "x86_64") => Ok("@foundry-rs/anvil-linux-amd64"),
        ("linux", "aarch64") => Ok("@foundry-rs/anvil-linux-arm64"),
        ("macos", "x86_64") => Ok("@foundry-rs/anvil-darwin-amd64"),
        ("macos", "aarch64") => Ok("@foundry-rs/anvil-darwin-arm64"),
        (os, arch) => Err(InstallError::UnsupportedPlatform { os, arch }),
    }
}

/// Checks that `executable arguments` runs and succeeds; `program` names it in the error.
fn require_program(
    program: &'static str,
    executable: &str,
    arguments: &[&str],
    hint: &'static str,
) -> Result<(), InstallError> {
    match Command::new(executable).args(arguments).output() {
        Ok(output) if output.status.success() => Ok(()),
        _ => Err(InstallError::MissingProgram { program, hint }),
    }
}

fn run(command: &mut Command) -> Result<Output, InstallError> {
    let line = format!("{command:?}").replace('"', "");
    let output = command.output().map_err(|source| InstallError::Io {
        action: "run",
        path: PathBuf::from(command.get_program()),
        source,
    })?;
    if output.status.success() {
        Ok(output)
    } else {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: String = stderr
            .lines()
            .rev()
            .take(10)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("\n");
        Err(InstallError::CommandFailed { command: line, status: output.status, stderr: tail })
    }
}

fn fresh_dir(path: &Path) -> Result<(), InstallError> {
    if path.exists() {
        fs::remove_dir_all(path).map_err(io_error("remove", path))?;
    }
    fs::create_dir_all(path).map_err(io_error("create", path))
}

fn rename(from: &Path, to: &Path) -> Result<(), InstallError> {
    if to.exists() {
        fs::remove_dir_all(to).map_err(io_error("remove", to))?;
    }
    fs::rename(from, to).map_err(io_error("rename into place", to))
}

fn io_error(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> InstallError {
    let path = path.to_path_buf();
    move |source| InstallError::Io { action, path, source }
}
