//! The unit's copies of the other units' `upgrade` bags, kept in a file beside the charm
//! between hooks ([`juju_upgrade::PeerCache`] holds the rules), so that a hook needing every
//! unit's bag (the leader's, an action's) reads only the unit Juju has just refreshed.
//!
//! The file is `peer-cache/upgrade.json` in the charm directory. The `peer-cache` directory
//! ships in the charm archive and the charm never creates it: Juju's deployer removes a
//! directory that the old archive had and the new one has not, so a refresh to a revision
//! that does not keep this cache (and would not keep it up to date) takes the cache with it,
//! and a later refresh back starts with none.
//!
//! - A hook that refreshes a unit's copy (`upgrade-relation-changed` for a unit) first moves
//!   the file aside (`upgrade.json.taken`, one `rename`, before any hook tool), and only a
//!   hook that ran to its end puts one back: a hook that fails or is killed half-way leaves
//!   none, and the next hook needing every bag reads them all.
//! - Hooks that may change the members or the leader drop the file.
//! - The file is written whole to `upgrade.json.tmp`, synced and renamed into place.
//! - A hook decided from this unit's bag and the application bag reads nothing here.

use std::fs::{self, File};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use juju_ops::{Event as JujuEvent, RelationHookKind, RelationId};
use juju_upgrade::{unit_number, CacheHook, CacheKey, CacheMiss, PeerCache};

use crate::peer::UPGRADE_ENDPOINT;

/// The directory the cache lives in, shipped (with a README) in the charm archive.
pub const CACHE_DIR: &str = "peer-cache";
/// The cache file in [`CACHE_DIR`].
pub const CACHE_FILE: &str = "upgrade.json";
const TAKEN_FILE: &str = "upgrade.json.taken";
const TEMP_FILE: &str = "upgrade.json.tmp";

/// `JUJU_AGENT_SOCKET_ADDRESS`: the unit agent's hook-tool socket, made anew each time the
/// agent starts.
const AGENT_SOCKET: &str = "JUJU_AGENT_SOCKET_ADDRESS";

/// Why the cache could not be moved aside or dropped. The hook fails rather than run with a
/// cache that may miss what this hook changes.
#[derive(Debug, thiserror::Error)]
#[error("cannot {what} the peer cache {path}: {source}")]
pub struct CacheError {
    what: &'static str,
    path: PathBuf,
    source: std::io::Error,
}

/// What `event` does to Juju's copies of the other units' bags of the `upgrade` relation.
pub fn cache_hook(event: &JujuEvent) -> CacheHook {
    match event {
        JujuEvent::Hook {
            relation: Some(relation),
            ..
        } if relation.name() == UPGRADE_ENDPOINT => match relation.kind {
            RelationHookKind::Changed => match relation.remote_unit.as_deref() {
                Some(remote) => {
                    unit_number(remote).map_or(CacheHook::Invalidates, CacheHook::Refreshes)
                }
                // The application bag changed: no unit's copy is refreshed.
                None => CacheHook::Keeps,
            },
            RelationHookKind::Created
            | RelationHookKind::Joined
            | RelationHookKind::Departed
            | RelationHookKind::Broken => CacheHook::Invalidates,
        },
        JujuEvent::Hook { name, .. } if name == "leader-elected" => CacheHook::Invalidates,
        _ => CacheHook::Keeps,
    }
}

/// What a cache of this hook is for: the relation, this unit, and the agent's incarnation.
pub fn cache_key(relation: &RelationId, unit: u32) -> CacheKey {
    CacheKey {
        relation: relation.to_string(),
        unit,
        agent: std::env::var(AGENT_SOCKET)
            .ok()
            .and_then(|address| agent_incarnation(&address)),
    }
}

/// The agent's incarnation from its socket: the socket file's device, inode and change time,
/// which a restarted agent makes anew. `None` for an abstract socket (`@...`), an address that
/// is not a file, or one that cannot be read: the cache then holds across an agent restart,
/// showing the copies the agent had before it (and the restarted agent runs
/// `-relation-changed` for every unit whose bag changed meanwhile).
pub fn agent_incarnation(address: &str) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    if address.is_empty() || address.starts_with('@') {
        return None;
    }
    let meta = fs::symlink_metadata(address).ok()?;
    Some(format!(
        "{}:{}:{}.{:09}",
        meta.dev(),
        meta.ino(),
        meta.ctime(),
        meta.ctime_nsec()
    ))
}

fn dir(charm_dir: &Path) -> PathBuf {
    charm_dir.join(CACHE_DIR)
}

/// Called first in every hook, before any hook tool: moves the cache aside for a hook that
/// refreshes a unit's copy, drops it for one that may change the members or the leader.
pub fn on_hook_start(charm_dir: &Path, hook: CacheHook) -> Result<(), CacheError> {
    let dir = dir(charm_dir);
    let (main, taken) = (dir.join(CACHE_FILE), dir.join(TAKEN_FILE));
    match hook {
        CacheHook::Keeps => Ok(()),
        CacheHook::Refreshes(_) => {
            // An older taken file missed a refresh: it must never be read back.
            remove(&taken)?;
            match fs::rename(&main, &taken) {
                Ok(()) => Ok(()),
                Err(err) if err.kind() == ErrorKind::NotFound => Ok(()),
                Err(source) => {
                    log::warn!("cannot move the peer cache aside ({source}); dropping it");
                    remove(&main)
                }
            }
        }
        CacheHook::Invalidates => {
            remove(&taken)?;
            remove(&main)
        }
    }
}

fn remove(path: &Path) -> Result<(), CacheError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(err) if err.kind() == ErrorKind::NotFound => Ok(()),
        Err(source) => Err(CacheError {
            what: "remove",
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// The cache this hook may use: the one it moved aside if it refreshes a unit's copy, else
/// the one in place; none after a hook that drops it.
pub fn load(charm_dir: &Path, hook: CacheHook) -> Result<PeerCache, CacheMiss> {
    let path = match hook {
        CacheHook::Invalidates => return Err(CacheMiss::Invalidated),
        CacheHook::Refreshes(_) => dir(charm_dir).join(TAKEN_FILE),
        CacheHook::Keeps => dir(charm_dir).join(CACHE_FILE),
    };
    match fs::read_to_string(&path) {
        Ok(text) => PeerCache::from_json(&text),
        Err(err) if err.kind() == ErrorKind::NotFound => Err(CacheMiss::Absent),
        Err(err) => Err(CacheMiss::Unreadable(format!("{}: {err}", path.display()))),
    }
}

/// Puts `cache` in place for the next hook, atomically (written whole, synced, renamed), and
/// drops the copy this hook moved aside. Failing to is logged, not a hook failure: the next
/// hook then finds no cache and reads every bag. Without the shipped [`CACHE_DIR`] nothing is
/// written.
pub fn store(charm_dir: &Path, cache: &PeerCache) {
    let dir = dir(charm_dir);
    if !dir.is_dir() {
        log::debug!(
            "{} is not in this charm: the peer cache is off",
            dir.display()
        );
        return;
    }
    let (main, temp, taken) = (
        dir.join(CACHE_FILE),
        dir.join(TEMP_FILE),
        dir.join(TAKEN_FILE),
    );
    let written = (|| -> std::io::Result<()> {
        let mut file = File::create(&temp)?;
        file.write_all(cache.to_json().as_bytes())?;
        file.sync_all()?;
        fs::rename(&temp, &main)
    })();
    if let Err(err) = written {
        log::warn!("cannot write the peer cache {}: {err}", main.display());
        let _ = fs::remove_file(&temp);
        let _ = fs::remove_file(&main);
    }
    let _ = fs::remove_file(&taken);
}

#[cfg(test)]
mod tests {
    use super::*;
    use juju_ops::Dispatch;
    use juju_upgrade::Bag;

    fn event(hook: &str, remote: Option<&str>) -> JujuEvent {
        let mut vars = vec![
            ("JUJU_DISPATCH_PATH".to_owned(), format!("hooks/{hook}")),
            ("JUJU_HOOK_NAME".to_owned(), hook.to_owned()),
            ("JUJU_UNIT_NAME".to_owned(), "mysql/0".to_owned()),
            ("JUJU_MODEL_NAME".to_owned(), "dev".to_owned()),
            ("JUJU_CHARM_DIR".to_owned(), "/charm".to_owned()),
            ("JUJU_VERSION".to_owned(), "3.6.4".to_owned()),
        ];
        if hook.contains("-relation-") {
            let endpoint = hook.split("-relation-").next().unwrap_or_default();
            vars.push(("JUJU_RELATION".into(), endpoint.into()));
            vars.push(("JUJU_RELATION_ID".into(), format!("{endpoint}:4")));
            vars.push(("JUJU_REMOTE_APP".into(), "mysql".into()));
            vars.push(("JUJU_REMOTE_UNIT".into(), remote.unwrap_or("").into()));
            if hook.ends_with("-departed") {
                vars.push(("JUJU_DEPARTING_UNIT".into(), "mysql/2".into()));
            }
        }
        Dispatch::from_vars(vars).expect("dispatch").event
    }

    #[test]
    fn which_hooks_refresh_drop_or_keep_the_copies() {
        assert_eq!(
            cache_hook(&event("upgrade-relation-changed", Some("mysql/7"))),
            CacheHook::Refreshes(7)
        );
        assert_eq!(
            cache_hook(&event("upgrade-relation-changed", None)),
            CacheHook::Keeps,
            "the application bag changed"
        );
        for hook in [
            "upgrade-relation-created",
            "upgrade-relation-joined",
            "upgrade-relation-departed",
            "upgrade-relation-broken",
            "leader-elected",
        ] {
            assert_eq!(
                cache_hook(&event(hook, Some("mysql/2"))),
                CacheHook::Invalidates,
                "{hook}"
            );
        }
        for hook in ["upgrade-charm", "config-changed", "update-status"] {
            assert_eq!(cache_hook(&event(hook, None)), CacheHook::Keeps, "{hook}");
        }
        assert_eq!(
            cache_hook(&event("database-peers-relation-changed", Some("mysql/1"))),
            CacheHook::Keeps,
            "another relation"
        );
    }

    fn key() -> CacheKey {
        CacheKey {
            relation: "upgrade:4".into(),
            unit: 0,
            agent: None,
        }
    }

    fn cache(state: &str) -> PeerCache {
        PeerCache::new(
            key(),
            [(1, Bag::from([("state".to_owned(), state.to_owned())]))],
        )
    }

    fn charm_dir() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("charm dir");
        fs::create_dir(dir.path().join(CACHE_DIR)).expect("shipped cache dir");
        dir
    }

    #[test]
    fn a_stored_cache_is_read_back_by_the_next_hook() {
        let dir = charm_dir();
        assert_eq!(load(dir.path(), CacheHook::Keeps), Err(CacheMiss::Absent));
        store(dir.path(), &cache("ready"));
        assert_eq!(load(dir.path(), CacheHook::Keeps), Ok(cache("ready")));
        assert!(
            !dir.path().join(CACHE_DIR).join(TEMP_FILE).exists(),
            "renamed into place"
        );
    }

    #[test]
    fn a_refreshing_hook_that_does_not_finish_leaves_no_cache() {
        let dir = charm_dir();
        store(dir.path(), &cache("ready"));
        on_hook_start(dir.path(), CacheHook::Refreshes(1)).expect("moved aside");
        assert_eq!(
            load(dir.path(), CacheHook::Keeps),
            Err(CacheMiss::Absent),
            "an action while that hook is in error reads every bag"
        );
        assert_eq!(
            load(dir.path(), CacheHook::Refreshes(1)),
            Ok(cache("ready")),
            "the hook itself uses what it moved aside"
        );
        // The hook died; the next one for the same unit must not read that copy back.
        on_hook_start(dir.path(), CacheHook::Refreshes(1)).expect("started");
        assert_eq!(
            load(dir.path(), CacheHook::Refreshes(1)),
            Err(CacheMiss::Absent)
        );
        store(dir.path(), &cache("upgrading"));
        assert_eq!(load(dir.path(), CacheHook::Keeps), Ok(cache("upgrading")));
        assert!(!dir.path().join(CACHE_DIR).join(TAKEN_FILE).exists());
    }

    #[test]
    fn hooks_that_may_change_members_or_leader_drop_it() {
        let dir = charm_dir();
        store(dir.path(), &cache("ready"));
        on_hook_start(dir.path(), CacheHook::Keeps).expect("nothing to do");
        assert_eq!(load(dir.path(), CacheHook::Keeps), Ok(cache("ready")));
        on_hook_start(dir.path(), CacheHook::Invalidates).expect("dropped");
        assert_eq!(load(dir.path(), CacheHook::Keeps), Err(CacheMiss::Absent));
    }

    #[test]
    fn a_damaged_file_is_a_miss() {
        let dir = charm_dir();
        store(dir.path(), &cache("ready"));
        let path = dir.path().join(CACHE_DIR).join(CACHE_FILE);
        let text = fs::read_to_string(&path).expect("stored");
        fs::write(&path, text.replace("ready", "reddy")).expect("damaged");
        assert_eq!(load(dir.path(), CacheHook::Keeps), Err(CacheMiss::Corrupt));
        fs::write(&path, &text[..10]).expect("truncated");
        assert!(matches!(
            load(dir.path(), CacheHook::Keeps),
            Err(CacheMiss::Unreadable(_))
        ));
    }

    #[test]
    fn without_the_shipped_directory_nothing_is_written() {
        let dir = tempfile::tempdir().expect("charm dir");
        store(dir.path(), &cache("ready"));
        assert!(!dir.path().join(CACHE_DIR).exists());
        assert_eq!(load(dir.path(), CacheHook::Keeps), Err(CacheMiss::Absent));
        on_hook_start(dir.path(), CacheHook::Refreshes(1)).expect("nothing to move");
    }

    #[test]
    fn the_agent_incarnation_changes_with_its_socket() {
        assert_eq!(agent_incarnation(""), None);
        assert_eq!(
            agent_incarnation("@/var/lib/juju/agents/x/agent.socket"),
            None
        );
        let dir = tempfile::tempdir().expect("dir");
        let socket = dir.path().join("agent.socket");
        assert_eq!(agent_incarnation(&socket.display().to_string()), None);
        let first = std::os::unix::net::UnixListener::bind(&socket).expect("socket");
        let before = agent_incarnation(&socket.display().to_string());
        assert!(before.is_some());
        drop(first);
        fs::remove_file(&socket).expect("agent stopped");
        // A new socket (a restarted agent): another inode or another change time.
        let placeholder = dir.path().join("keep-inode-busy");
        fs::write(&placeholder, "x").expect("placeholder");
        std::thread::sleep(std::time::Duration::from_millis(5));
        let _second = std::os::unix::net::UnixListener::bind(&socket).expect("socket again");
        assert_ne!(agent_incarnation(&socket.display().to_string()), before);
    }
}
