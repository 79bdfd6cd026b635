//! The system users' passwords, kept in one Juju application secret as Charmed MySQL
//! keeps them (its peer-relation secret, label `database-peers.<app>.app`), under Charmed
//! MySQL's keys (`root-password`, `server-config-password`, `cluster-admin-password`,
//! `monitoring-password`, `backups-password`).
//!
//! The leader creates the secret with random passwords ([`ensure_passwords`]); every unit
//! reads it ([`passwords`]); `set-password` replaces one ([`store_password`]).

use std::collections::BTreeMap;
use std::io::Read;

use juju_ops::{HookTools, SecretOwner, SecretRef, ToolError};

use crate::workload::{users, Passwords};

/// The length of a generated password (Charmed MySQL's `PASSWORD_LENGTH`).
pub const PASSWORD_LENGTH: usize = 24;

/// The secret's label for application `app`.
pub fn label(app: &str) -> String {
    format!("database-peers.{app}.app")
}

/// The secret key holding `user`'s password, for the users the charm manages.
pub fn key_of(user: &str) -> Option<&'static str> {
    Some(match user {
        users::ROOT => "root-password",
        users::SERVER_CONFIG => "server-config-password",
        users::CLUSTER_ADMIN => "cluster-admin-password",
        users::MONITORING => "monitoring-password",
        users::BACKUPS => "backups-password",
        _ => return None,
    })
}

/// The users `get-password` and `set-password` accept, in Charmed MySQL's order.
pub const USERS: [&str; 5] = [
    users::ROOT,
    users::SERVER_CONFIG,
    users::CLUSTER_ADMIN,
    users::MONITORING,
    users::BACKUPS,
];

/// Why the passwords cannot be had.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// A hook tool failed.
    #[error(transparent)]
    Tool(#[from] ToolError),
    /// The secret lacks a key.
    #[error("the secret {label} has no {key}")]
    MissingKey {
        /// The secret.
        label: String,
        /// The key.
        key: &'static str,
    },
    /// No randomness for a new password.
    #[error("cannot read /dev/urandom for a new password: {0}")]
    Random(std::io::Error),
}

fn from_content(app: &str, content: &BTreeMap<String, String>) -> Result<Passwords, SecretError> {
    let get = |user: &str| -> Result<String, SecretError> {
        let key = key_of(user).unwrap_or_default();
        content
            .get(key)
            .cloned()
            .ok_or_else(|| SecretError::MissingKey {
                label: label(app),
                key,
            })
    };
    Ok(Passwords {
        root: get(users::ROOT)?,
        server_config: get(users::SERVER_CONFIG)?,
        cluster_admin: get(users::CLUSTER_ADMIN)?,
        monitoring: get(users::MONITORING)?,
        backups: get(users::BACKUPS)?,
    })
}

/// The passwords, or `None` before the leader created the secret.
pub fn passwords(tools: &dyn HookTools, app: &str) -> Result<Option<Passwords>, SecretError> {
    match tools.secret_get(&SecretRef::Label(label(app)))? {
        Some(content) => from_content(app, &content).map(Some),
        None => Ok(None),
    }
}

/// A random password of letters and digits.
pub fn generate_password() -> Result<String, SecretError> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut random = std::fs::File::open("/dev/urandom").map_err(SecretError::Random)?;
    let mut password = String::with_capacity(PASSWORD_LENGTH);
    let mut byte = [0u8; 1];
    while password.len() < PASSWORD_LENGTH {
        random.read_exact(&mut byte).map_err(SecretError::Random)?;
        // Rejection sampling keeps every character equally likely.
        if usize::from(byte[0]) < 256 - 256 % ALPHABET.len() {
            password.push(char::from(ALPHABET[usize::from(byte[0]) % ALPHABET.len()]));
        }
    }
    Ok(password)
}

/// On the leader: the passwords, the secret created with new random ones first when
/// there is none yet.
pub fn ensure_passwords(tools: &dyn HookTools, app: &str) -> Result<Passwords, SecretError> {
    if let Some(existing) = passwords(tools, app)? {
        return Ok(existing);
    }
    let mut content = BTreeMap::new();
    for user in USERS {
        if let Some(key) = key_of(user) {
            content.insert(key.to_owned(), generate_password()?);
        }
    }
    log::info!("Generating internal user credentials");
    tools.secret_add(&content, &label(app), SecretOwner::Application)?;
    from_content(app, &content)
}

/// On the leader: `user`'s new password stored in the secret (a new revision).
pub fn store_password(
    tools: &dyn HookTools,
    app: &str,
    user: &str,
    password: &str,
) -> Result<(), SecretError> {
    let label = label(app);
    let key = key_of(user).ok_or_else(|| SecretError::MissingKey {
        label: label.clone(),
        key: "password of an unknown user",
    })?;
    let info = tools
        .secret_info_get(&SecretRef::Label(label.clone()))?
        .ok_or(SecretError::MissingKey {
            label: label.clone(),
            key,
        })?;
    let mut content = tools
        .secret_get(&SecretRef::Id(info.id.clone()))?
        .unwrap_or_default();
    content.insert(key.to_owned(), password.to_owned());
    tools.secret_set(&info.id, &content)?;
    Ok(())
}
