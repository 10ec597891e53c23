//! The service key options shared by the subcommands that act as the service: `--private-key`
//! (`PFS_PRIVATE_KEY`) or `--private-key-file` (`PFS_PRIVATE_KEY_FILE`).

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Args;
use pfs_core::PrivateKey;

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
    /// The key as 64 hex digits (for signers that take text) and parsed.
    ///
    /// # Errors
    /// Neither option given, an unreadable file, or not 32 bytes of hex.
    pub fn load(&self) -> anyhow::Result<(String, PrivateKey)> {
        let text = match (&self.private_key, &self.private_key_file) {
            (Some(text), _) => text.clone(),
            (None, Some(path)) => {
                std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?
            }
            (None, None) => {
                bail!("a private key is required (--private-key, PFS_PRIVATE_KEY or --private-key-file)")
            }
        };
        let text = text.trim().to_owned();
        let key = PrivateKey::parse_hex(&text).context("the private key is not 32 bytes of hex")?;
        Ok((text, key))
    }
}
