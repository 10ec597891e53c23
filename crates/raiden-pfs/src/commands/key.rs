//! The service key options shared by the subcommands that act as the service: `--private-key`
//! (`PFS_PRIVATE_KEY`) or `--private-key-file` (`PFS_PRIVATE_KEY_FILE`).

use std::path::PathBuf;

use anyhow::bail;
use clap::Args;
use pfs_core::PrivateKey;

use super::serve_config::KeySource;

/// Where the service's private key comes from.
#[derive(Debug, Args)]
pub struct KeyArgs {
    /// The service's private key as hex.
    #[arg(long, env = "PFS_PRIVATE_KEY", conflicts_with = "private_key_file", hide_env_values = true)]
    private_key: Option<String>,
    /// A file holding the service's private key as hex.
    #[arg(long, env = "PFS_PRIVATE_KEY_FILE")]
    private_key_file: Option<PathBuf>,
}

impl KeyArgs {
    /// The key, loaded as `serve` loads its hex sources ([`KeySource::load`]).
    ///
    /// # Errors
    /// Neither option given, an unreadable file, or not 32 bytes of hex.
    pub fn load(&self) -> anyhow::Result<PrivateKey> {
        let source = match (&self.private_key, &self.private_key_file) {
            (Some(text), _) => KeySource::Hex(text.clone()),
            (None, Some(path)) => KeySource::HexFile(path.clone()),
            (None, None) => {
                bail!("a private key is required (--private-key, PFS_PRIVATE_KEY or --private-key-file)")
            }
        };
        source.load()
    }
}
