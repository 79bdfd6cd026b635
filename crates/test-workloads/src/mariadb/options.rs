//! The option files the workload writes: the server's (`my.cnf`, rewritten at every
//! start, including the installed revision's file), one per revision, the two client
//! files, and the init file that creates the model's users.

use std::path::Path;

use super::layout::{Secrets, UnitPaths, ADMIN_USER, APP_USER, REPLICATION_USER};
use mysql_charm::workload::{WorkloadError, WorkloadRevision};

/// The option an armed `start-fails` fault writes into a revision's options file.
/// mariadbd does not know it, so it refuses to start ("unknown variable"), as a server
/// would on a bad option shipped by a broken upgrade.
pub const REFUSED_OPTION: &str = "juju-sim-start-fails";

/// What differs between two servers of one model.
pub(crate) struct ServerIdentity<'a> {
    pub paths: &'a UnitPaths,
    pub port: u16,
    pub server_id: u64,
    pub run_as_root: bool,
    pub revision_file: &'a Path,
    /// The installation directory of an unpacked server (messages live under it).
    pub basedir: Option<&'a Path>,
    /// The Galera options, when the model's servers form a Galera cluster.
    pub galera: Option<GaleraIdentity<'a>>,
}

/// Where one Galera node listens, and how to reach the others.
pub(crate) struct GaleraIdentity<'a> {
    /// Group communication (`gmcast.listen_addr`, `wsrep_node_address`).
    pub gcomm_port: u16,
    /// Incremental state transfers to this node.
    pub ist_port: u16,
    /// Full state transfers (mariabackup) to this node.
    pub sst_port: u16,
    /// The group communication ports of every node of the model, this one included.
    pub peers: &'a [u16],
    /// `user:password` of the account a donor's mariabackup uses.
    pub sst_auth: &'a str,
}

/// Debian's Galera 4 provider (package `galera-4`).
pub const GALERA_PROVIDER: &str = "/usr/lib/galera/libgalera_smm.so";

fn galera_options(g: &GaleraIdentity<'_>) -> Result<String, WorkloadError> {
    if g.sst_auth.contains(['\n', '\r', '"']) {
        return Err(WorkloadError::Precondition {
            operation: "write the Galera options".into(),
            reason: "the SST credentials cannot go in an option file".into(),
        });
    }
    let peers: Vec<String> = g.peers.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    Ok(format!(
        "wsrep-on = ON\n\
         wsrep-provider = {GALERA_PROVIDER}\n\
         wsrep-cluster-name = juju-sim\n\
         wsrep-cluster-address = gcomm://{peers}\n\
         wsrep-node-address = 127.0.0.1:{gcomm}\n\
         wsrep-provider-options = \"gmcast.listen_addr=tcp://127.0.0.1:{gcomm};ist.recv_addr=127.0.0.1:{ist};gcache.size=64M\"\n\
         wsrep-sst-method = mariabackup\n\
         wsrep-sst-receive-address = 127.0.0.1:{sst}\n\
         wsrep-sst-auth = \"{auth}\"\n\
         innodb-autoinc-lock-mode = 2\n",
        peers = peers.join(","),
        gcomm = g.gcomm_port,
        ist = g.ist_port,
        sst = g.sst_port,
        auth = g.sst_auth,
    ))
}

/// Quotes a path for an option file; refuses what the format cannot carry.
fn quoted(path: &Path) -> Result<String, WorkloadError> {
    let text = path.to_str().ok_or_else(|| unwritable(path, "not UTF-8"))?;
    if text.contains(['"', '\n', '\r', '\\']) {
        return Err(unwritable(path, "contains a quote, backslash or newline"));
    }
    Ok(format!("\"{text}\""))
}

fn unwritable(path: &Path, why: &str) -> WorkloadError {
    WorkloadError::Precondition {
        operation: "write MariaDB options".into(),
        reason: format!("{}: {why}", path.display()),
    }
}

/// The server's own options file. Replicas start read-only and without replication
/// threads; the workload promotes or points them after the server answers.
pub(crate) fn server_options(id: &ServerIdentity<'_>) -> Result<String, WorkloadError> {
    let p = id.paths;
    let include = id
        .revision_file
        .to_str()
        .filter(|t| !t.contains(['\n', '\r']))
        .ok_or_else(|| unwritable(id.revision_file, "not a single UTF-8 line"))?;
    let user = if id.run_as_root { "user = root\n" } else { "" };
    let galera = match &id.galera {
        Some(g) => galera_options(g)?,
        None => String::new(),
    };
    let install = match id.basedir {
        Some(dir) => format!(
            "basedir = {}\nlc-messages-dir = {}\n",
            quoted(dir)?,
            quoted(&dir.join("share").join("mysql"))?
        ),
        None => String::new(),
    };
    Ok(format!(
        "# Written by the juju-sim MariaDB workload at every start; edits are lost.\n\
         [mariadbd]\n\
         datadir = {data}\n\
         tmpdir = {tmp}\n\
         port = {port}\n\
         bind-address = 127.0.0.1\n\
         socket = {socket}\n\
         pid-file = {pid}\n\
         log-error = {log}\n\
         {user}\
         {install}\
         server-id = {server_id}\n\
         log-bin = binlog\n\
         log-slave-updates = ON\n\
         binlog-format = ROW\n\
         read-only = ON\n\
         skip-slave-start\n\
         skip-name-resolve\n\
         init-file = {init}\n\
         innodb-buffer-pool-size = 32M\n\
         innodb-log-file-size = 8M\n\
         performance-schema = OFF\n\
         max-connections = 64\n\
         {galera}\
         !include {include}\n",
        data = quoted(&p.data)?,
        tmp = quoted(&p.tmp)?,
        port = id.port,
        socket = quoted(&p.socket)?,
        pid = quoted(&p.pid)?,
        log = quoted(&p.error_log)?,
        server_id = id.server_id,
        init = quoted(&p.init_sql)?,
    ))
}

/// Characters a version or revision may carry into an option file or a file name.
fn is_safe_token(text: &str) -> bool {
    !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '+'))
}

/// Refuses revisions whose names could break out of an option file or a path.
pub(crate) fn check_revision(target: &WorkloadRevision) -> Result<(), WorkloadError> {
    for (what, value) in [("version", &target.version), ("revision", &target.revision)] {
        if !is_safe_token(value) {
            return Err(WorkloadError::Precondition {
                operation: format!("install {}", target.revision),
                reason: format!("{what} {value:?} must be letters, digits and . - _ + only"),
            });
        }
    }
    Ok(())
}

/// The text after the real server version in `@@version`: tells which revision the
/// running server was started with.
pub(crate) fn version_marker(target: &WorkloadRevision) -> String {
    format!("-juju-sim-{}-r{}", target.version, target.revision)
}

/// One revision's options: the version marker (`@@version` reports it) and, when the
/// `start-fails` fault is armed for this version, an option mariadbd refuses.
pub(crate) fn revision_options(
    target: &WorkloadRevision,
    server_version: &str,
    start_fails: bool,
) -> String {
    let mut text = format!(
        "# juju-sim MariaDB workload: version {version}, revision {revision}.\n\
         [mariadbd]\n\
         version = {server_version}{marker}\n",
        version = target.version,
        revision = target.revision,
        marker = version_marker(target),
    );
    if start_fails {
        text.push_str(&format!(
            "# Armed fault start-fails for {version}: an option mariadbd does not know.\n\
             {REFUSED_OPTION} = {version}\n",
            version = target.version
        ));
    }
    text
}

/// A client options file: TCP to the unit's loopback port as `user`.
pub(crate) fn client_options(port: u16, user: &str, password: &str) -> String {
    format!(
        "[client]\n\
         host = 127.0.0.1\n\
         port = {port}\n\
         protocol = TCP\n\
         user = {user}\n\
         password = {password}\n\
         connect-timeout = 3\n"
    )
}

/// Statements mariadbd runs at every start, kept out of the binary log so that no
/// server's history differs from another's: the administrative user, the replication
/// user, and an application user that `read_only` applies to.
pub(crate) fn init_sql(secrets: &Secrets) -> String {
    format!(
        "SET sql_log_bin = 0;\n\
         CREATE USER IF NOT EXISTS '{ADMIN_USER}'@'127.0.0.1' IDENTIFIED BY '{admin}';\n\
         GRANT ALL PRIVILEGES ON *.* TO '{ADMIN_USER}'@'127.0.0.1' WITH GRANT OPTION;\n\
         CREATE USER IF NOT EXISTS '{ADMIN_USER}'@'localhost' IDENTIFIED BY '{admin}';\n\
         GRANT ALL PRIVILEGES ON *.* TO '{ADMIN_USER}'@'localhost';\n\
         CREATE USER IF NOT EXISTS '{REPLICATION_USER}'@'127.0.0.1' IDENTIFIED BY '{repl}';\n\
         GRANT REPLICATION SLAVE ON *.* TO '{REPLICATION_USER}'@'127.0.0.1';\n\
         CREATE USER IF NOT EXISTS '{APP_USER}'@'127.0.0.1' IDENTIFIED BY '{app}';\n\
         GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, INDEX, ALTER ON *.* TO '{APP_USER}'@'127.0.0.1';\n",
        admin = secrets.admin_password,
        repl = secrets.replication_password,
        app = secrets.app_password,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn armed_revisions_carry_an_option_mariadbd_refuses() {
        let rev = WorkloadRevision::new("8.0.35", "183");
        let clean = revision_options(&rev, "10.11.6-MariaDB", false);
        assert!(clean.contains("version = 10.11.6-MariaDB-juju-sim-8.0.35-r183\n"));
        assert!(!clean.contains(REFUSED_OPTION));
        let armed = revision_options(&rev, "10.11.6-MariaDB", true);
        assert!(armed.contains(&format!("\n{REFUSED_OPTION} = 8.0.35\n")));
    }

    #[test]
    fn revisions_that_could_escape_an_option_file_are_refused() {
        assert!(check_revision(&WorkloadRevision::new("8.0.34", "182")).is_ok());
        assert!(check_revision(&WorkloadRevision::new("8.0.34\nuser=x", "1")).is_err());
        assert!(check_revision(&WorkloadRevision::new("8.0.34", "../1")).is_err());
        assert!(check_revision(&WorkloadRevision::new("", "1")).is_err());
    }

    #[test]
    fn server_options_quote_paths_and_include_the_revision() {
        let paths = UnitPaths::new(Path::new("/m dir/0"), "mysql/3");
        let revision_file = paths.revision_options("182");
        let text = server_options(&ServerIdentity {
            paths: &paths,
            port: 20_003,
            server_id: 4,
            run_as_root: true,
            revision_file: &revision_file,
            basedir: None,
            galera: None,
        })
        .expect("options");
        assert!(text.contains("datadir = \"/m dir/0/mariadb-mysql-3/data\"\n"));
        assert!(text.contains("\nuser = root\n"));
        assert!(text.contains("\nserver-id = 4\n"));
        assert!(text.ends_with("!include /m dir/0/mariadb-mysql-3/revisions/182.cnf\n"));

        let bad = UnitPaths::new(Path::new("/m\"x"), "mysql/3");
        let refused = server_options(&ServerIdentity {
            paths: &bad,
            port: 1,
            server_id: 1,
            run_as_root: false,
            revision_file: &revision_file,
            basedir: None,
            galera: None,
        });
        assert!(refused.is_err());
    }
}
