//! Getting an access token for a Raiden identity, the same way for the PFS and for simulated
//! nodes (spec/PROTOCOL.md §6.1, spec/REFERENCE-PFS.md §8.1), and publishing the identity:
//! displayname = signature of the user id, avatar URL = capabilities.
//!
//! The account is always `@<lower-case address>:<server name>`. With Raiden's auth module on the
//! homeserver, the signature password logs in and registers on first use. A homeserver without
//! the module refuses that login for an unknown account; the account is then registered with the
//! same password through open registration, so later logins work with either kind of server.

use std::fmt;

use pfs_core::PrivateKey;
use pfs_core::matrix_identity::{self, MatrixIdentityError};
use reqwest::Url;

use crate::http::{HomeserverApi, MatrixError};

/// The device id of a Pathfinding Service (`DeviceIDs.PFS`); clients send updates to it.
pub const PFS_DEVICE_ID: &str = "PATH_FINDING";
/// The device id of a Raiden node (`DeviceIDs.RAIDEN`).
pub const NODE_DEVICE_ID: &str = "RAIDEN";

/// Where a homeserver is: the URL clients use and its Matrix server name.
///
/// Raiden assumes the server name is the URL's `host[:port]`; a homeserver whose server name
/// differs (delegation, or loopback test servers whose federation port names them) needs it
/// given explicitly, because the login password and user ids are made from the server name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HomeserverAddress {
    url: Url,
    server_name: String,
}

/// A homeserver URL that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HomeserverAddressError {
    /// Not an absolute `http`/`https` URL with a host.
    #[error("homeserver URL {0:?} is not an absolute http(s) URL with a host")]
    InvalidUrl(String),
    /// The server name is empty or contains whitespace, `/` or `@`.
    #[error("invalid Matrix server name {0:?}")]
    InvalidServerName(String),
}

impl HomeserverAddress {
    /// The homeserver at `url`, with server name `server_name`, or the URL's `host[:port]` (the
    /// Raiden convention, Python's `urlparse(url).netloc`) if `None`.
    ///
    /// # Errors
    /// [`HomeserverAddressError`] for a URL that is not absolute `http(s)://host…`, or a server
    /// name that cannot be one.
    ///
    /// # Examples
    /// ```
    /// use pfs_matrix::HomeserverAddress;
    ///
    /// let raiden = HomeserverAddress::new("https://transport.example.org", None).unwrap();
    /// assert_eq!(raiden.server_name(), "transport.example.org");
    /// let loopback = HomeserverAddress::new("http://127.0.0.1:8008", Some("127.0.0.1:8448")).unwrap();
    /// assert_eq!(loopback.server_name(), "127.0.0.1:8448");
    /// assert!(HomeserverAddress::new("transport.example.org", None).is_err());
    /// ```
    pub fn new(url: &str, server_name: Option<&str>) -> Result<Self, HomeserverAddressError> {
        let invalid = || HomeserverAddressError::InvalidUrl(url.chars().take(200).collect());
        let parsed = Url::parse(url).map_err(|_| invalid())?;
        if !matches!(parsed.scheme(), "http" | "https")
            || parsed.cannot_be_a_base()
            || parsed.host().is_none()
        {
            return Err(invalid());
        }
        let server_name = match server_name {
            Some(name) => name.to_owned(),
            None => matrix_identity::server_name_from_url(url)
                .map_err(|_: MatrixIdentityError| invalid())?
                .to_owned(),
        };
        let server_name_is_valid = !server_name.is_empty()
            && server_name.len() <= 255
            && !server_name.chars().any(|character| character.is_whitespace() || "/@".contains(character));
        if !server_name_is_valid {
            return Err(HomeserverAddressError::InvalidServerName(server_name.chars().take(200).collect()));
        }
        Ok(Self { url: parsed, server_name })
    }

    /// The client-server API base URL.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The Matrix server name (the part after `:` in its user ids).
    pub fn server_name(&self) -> &str {
        &self.server_name
    }
}

impl fmt::Display for HomeserverAddress {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{} ({})", self.url, self.server_name)
    }
}

/// Which password the account of a Raiden identity uses.
#[derive(Clone, PartialEq, Eq, Default)]
pub enum LoginMethod {
    /// Raiden's scheme: password = `0x` hex of the EIP-191 signature of the server name. Needs no
    /// secret besides the key and works with Raiden's auth module (which registers on first
    /// login) and with open registration.
    #[default]
    RaidenSignature,
    /// A plain password for the address's account (registered with it if login is refused and
    /// registration is open).
    Password(String),
}

impl fmt::Debug for LoginMethod {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::RaidenSignature => formatter.write_str("RaidenSignature"),
            Self::Password(_) => formatter.write_str("Password(<hidden>)"),
        }
    }
}

/// Why a login did not give an access token.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// The homeserver refused both the login and the registration: wrong key or password for an
    /// existing account, or a homeserver without Raiden's module and with closed registration.
    #[error("{user_id} cannot log in ({login}) nor register ({registration})")]
    Refused {
        /// The account.
        user_id: String,
        /// The login answer.
        login: MatrixError,
        /// The registration answer.
        registration: MatrixError,
    },
    /// The homeserver is unreachable or failed; worth retrying.
    #[error("login: {0}")]
    Unavailable(#[source] MatrixError),
    /// The homeserver logged in a different user id than the identity's: the configured server
    /// name is not the homeserver's.
    #[error("logged in as {actual}, expected {expected}: is the server name right?")]
    UnexpectedUserId {
        /// `@<address>:<configured server name>`.
        expected: String,
        /// What the homeserver answered.
        actual: String,
    },
}

impl LoginError {
    /// Whether trying again later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable(error) if !error.is_permanent())
    }
}

/// An access token for a user and device.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Session {
    pub user_id: String,
    pub access_token: String,
}

impl fmt::Debug for Session {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.debug_struct("Session").field("user_id", &self.user_id).finish_non_exhaustive()
    }
}

/// Logs `key`'s account in on `homeserver` with device `device_id`, registering it if needed.
pub(crate) async fn log_in(
    api: &HomeserverApi,
    homeserver: &HomeserverAddress,
    key: &PrivateKey,
    method: &LoginMethod,
    device_id: &str,
) -> Result<Session, LoginError> {
    let user = key.address().to_lower_hex();
    let expected = matrix_identity::user_id(&key.address(), homeserver.server_name());
    let password = match method {
        LoginMethod::RaidenSignature => matrix_identity::login_password(key, homeserver.server_name()),
        LoginMethod::Password(password) => password.clone(),
    };
    let answer = match api.login(&user, &password, device_id).await {
        Ok(answer) => answer,
        Err(login) if login.is_permanent() => match api.register(&user, &password, device_id).await {
            Ok(answer) => answer,
            Err(registration) if registration.is_permanent() => {
                return Err(LoginError::Refused { user_id: expected, login, registration });
            }
            Err(registration) => return Err(LoginError::Unavailable(registration)),
        },
        Err(error) => return Err(LoginError::Unavailable(error)),
    };
    if answer.user_id != expected {
        return Err(LoginError::UnexpectedUserId { expected, actual: answer.user_id });
    }
    tracing::debug!(user_id = %answer.user_id, device_id = %answer.device_id, "logged in");
    Ok(Session { user_id: answer.user_id, access_token: answer.access_token })
}

/// Sets the displayname to the signature of the user id and the avatar URL to `avatar_url`,
/// each only if different (as the reference does).
pub(crate) async fn publish_identity(
    api: &HomeserverApi,
    session: &Session,
    key: &PrivateKey,
    avatar_url: &str,
) -> Result<(), MatrixError> {
    let profile = match api.profile(&session.access_token, &session.user_id).await {
        Ok(profile) => profile,
        Err(error) if error.status() == Some(404) => Default::default(),
        Err(error) => return Err(error),
    };
    let displayname = matrix_identity::displayname(key, &session.user_id);
    if profile.displayname.as_deref() != Some(displayname.as_str()) {
        api.set_displayname(&session.access_token, &session.user_id, &displayname).await?;
    }
    if profile.avatar_url.as_deref() != Some(avatar_url) {
        api.set_avatar_url(&session.access_token, &session.user_id, avatar_url).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_name_defaults_to_the_url_netloc() {
        let address = HomeserverAddress::new("https://transport.example.org/", None).unwrap();
        assert_eq!(address.server_name(), "transport.example.org");
        let address = HomeserverAddress::new("http://127.0.0.1:8008", None).unwrap();
        assert_eq!(address.server_name(), "127.0.0.1:8008");
    }

    #[test]
    fn explicit_server_name_wins() {
        let address = HomeserverAddress::new("http://127.0.0.1:8008", Some("127.0.0.1:8448")).unwrap();
        assert_eq!(address.server_name(), "127.0.0.1:8448");
        assert_eq!(address.url().as_str(), "http://127.0.0.1:8008/");
    }

    #[test]
    fn unusable_urls_and_server_names_are_errors() {
        for url in ["127.0.0.1:8008", "ftp://host", "mailto:x@y", "http://", ""] {
            assert!(HomeserverAddress::new(url, None).is_err(), "{url}");
        }
        for name in ["", "a b", "a/b", "@a"] {
            assert!(
                matches!(
                    HomeserverAddress::new("http://h", Some(name)),
                    Err(HomeserverAddressError::InvalidServerName(_))
                ),
                "{name}"
            );
        }
    }

    #[test]
    fn password_is_hidden_in_debug_output() {
        assert_eq!(format!("{:?}", LoginMethod::Password("secret".into())), "Password(<hidden>)");
    }
}
