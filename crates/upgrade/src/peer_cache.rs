//! A unit's copies of the other units' bags, kept from one hook to the next, so that a hook
//! that needs every unit's bag reads only the one Juju has just refreshed.
//!
//! Juju itself does not hand a hook fresh copies of the other units' bags: the unit agent
//! keeps a copy of each and replaces the copy of unit X only when a `-relation-joined` or
//! `-relation-changed` hook for X starts. A unit that keeps the copies it was shown, and
//! replaces X's in the hook for X, therefore sees exactly what Juju would show it, and a
//! leader decides from one `relation-get` where it made one per unit.
//!
//! This module is the cache's rules; where it is stored is the charm's (a file beside the
//! charm, written atomically). The rules, for [`read_other_bags`]:
//!
//! - The cache is used only for what it was written for ([`CacheKey`]: the relation, the unit,
//!   the unit agent's incarnation), only when stored in the format this build writes with a
//!   matching digest ([`PeerCache::from_json`]: a damaged file is a miss, never a guess), and
//!   only when it holds exactly the units `relation-list` reports: a unit that joined or left
//!   shows as a miss.
//! - A hook that refreshes X ([`CacheHook::Refreshes`]) reads X's bag; the charm takes the
//!   cache out of its place before any tool call of such a hook and puts it back only at its
//!   end, so a hook that dies or fails half-way leaves no cache behind that missed X.
//! - A hook that may change who the members are or who leads ([`CacheHook::Invalidates`])
//!   drops the cache: the next hook that needs every bag reads them all.
//! - Anything else keeps it ([`CacheHook::Keeps`]).
//!
//! A miss costs one read per unit, as without a cache, and leaves a fresh cache behind.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::snapshot::Bag;

/// The cache format this build reads and writes; any other is a miss.
pub const PEER_CACHE_FORMAT: u32 = 1;

/// What a hook does to Juju's copies of the other units' bags as it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CacheHook {
    /// `-relation-changed` for this unit: Juju refreshed its copy of the unit's bag.
    Refreshes(u32),
    /// `-relation-created`, `-joined`, `-departed`, `-broken` and `leader-elected`: the
    /// members or the leader may have changed; the cache is dropped.
    Invalidates,
    /// Every other hook and action: Juju's copies stay as they were.
    Keeps,
}

/// What a cache is valid for: the relation, the unit, and the unit agent's incarnation (a
/// restarted agent forgets its copies and reads the bags again, so a cache written before is
/// not trusted).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CacheKey {
    /// The relation, e.g. `upgrade:4`.
    pub relation: String,
    /// This unit's number.
    pub unit: u32,
    /// The unit agent's incarnation when the charm can tell it, else `None`.
    pub agent: Option<String>,
}

/// The other units' bags as Juju last showed them to this unit.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PeerCache {
    key: CacheKey,
    bags: BTreeMap<u32, Bag>,
}

/// A [`PeerCache`] as stored: with its format and the digest of its key and bags.
#[derive(Serialize, Deserialize)]
struct Stored {
    format: u32,
    key: CacheKey,
    bags: BTreeMap<u32, Bag>,
    digest: String,
}

/// Why a cache cannot stand for the other units' bags: they are read instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CacheMiss {
    /// There is no cache (never written, taken by a hook that did not finish, or dropped).
    #[error("no cache")]
    Absent,
    /// The hook drops the cache ([`CacheHook::Invalidates`]).
    #[error("the hook may change the members or the leader")]
    Invalidated,
    /// The stored text is not a cache of this format.
    #[error("unreadable cache: {0}")]
    Unreadable(String),
    /// The stored bags do not match their digest.
    #[error("the cache's digest does not match its bags")]
    Corrupt,
    /// The cache was written for another relation, unit or agent.
    #[error("the cache was written for {written:?}, not {wanted:?}")]
    OtherKey {
        /// What it was written for.
        written: CacheKey,
        /// What this hook is.
        wanted: CacheKey,
    },
    /// The units it holds are not the ones the relation has now.
    #[error("the cache holds units {cached:?}, the relation has {current:?}")]
    Members {
        /// The cached units.
        cached: BTreeSet<u32>,
        /// The other units now.
        current: BTreeSet<u32>,
    },
}

impl PeerCache {
    /// A cache of `bags`, the other units' bags, for `key`.
    pub fn new(key: CacheKey, bags: impl IntoIterator<Item = (u32, Bag)>) -> Self {
        PeerCache {
            key,
            bags: bags.into_iter().collect(),
        }
    }

    /// What it was written for.
    pub fn key(&self) -> &CacheKey {
        &self.key
    }

    /// The cached bags.
    pub fn bags(&self) -> &BTreeMap<u32, Bag> {
        &self.bags
    }

    /// The text to store.
    pub fn to_json(&self) -> String {
        let stored = Stored {
            format: PEER_CACHE_FORMAT,
            key: self.key.clone(),
            bags: self.bags.clone(),
            digest: digest(&self.key, &self.bags),
        };
        serde_json::to_string(&stored).unwrap_or_default()
    }

    /// A stored cache, checked against its format and digest.
    pub fn from_json(text: &str) -> Result<PeerCache, CacheMiss> {
        #[derive(Deserialize)]
        struct Format {
            format: u32,
        }
        let format: Format =
            serde_json::from_str(text).map_err(|err| CacheMiss::Unreadable(err.to_string()))?;
        if format.format != PEER_CACHE_FORMAT {
            return Err(CacheMiss::Unreadable(format!(
                "format {}, this charm reads {PEER_CACHE_FORMAT}",
                format.format
            )));
        }
        let stored: Stored =
            serde_json::from_str(text).map_err(|err| CacheMiss::Unreadable(err.to_string()))?;
        if stored.digest != digest(&stored.key, &stored.bags) {
            return Err(CacheMiss::Corrupt);
        }
        Ok(PeerCache::new(stored.key, stored.bags))
    }

    /// The cached bags of `others` (the other units now), with `refreshed`'s left out to be
    /// read, if this cache may stand for them in a hook `hook` for `key`.
    fn usable_for(
        &self,
        key: &CacheKey,
        hook: CacheHook,
        others: &BTreeSet<u32>,
    ) -> Result<(), CacheMiss> {
        if hook == CacheHook::Invalidates {
            return Err(CacheMiss::Invalidated);
        }
        if &self.key != key {
            return Err(CacheMiss::OtherKey {
                written: self.key.clone(),
                wanted: key.clone(),
            });
        }
        let cached: BTreeSet<u32> = self.bags.keys().copied().collect();
        if &cached != others {
            return Err(CacheMiss::Members {
                cached,
                current: others.clone(),
            });
        }
        Ok(())
    }
}

/// FNV-1a over the key and the bags as JSON: enough to tell a damaged file from a good one.
fn digest(key: &CacheKey, bags: &BTreeMap<u32, Bag>) -> String {
    let text = serde_json::to_string(&(key, bags)).unwrap_or_default();
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

/// The other units' bags for a hook that needs them, and what was read to get them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtherBags {
    /// Every other unit's bag, as [`crate::Pending::complete`] takes them.
    pub bags: Vec<(u32, Bag)>,
    /// The units whose bags were read with hook tools.
    pub read: Vec<u32>,
    /// Why the cache was not used, if it was not.
    pub miss: Option<CacheMiss>,
    /// The cache to store for the next hook: these bags, for this hook's key.
    pub cache: PeerCache,
}

impl OtherBags {
    /// Whether the cache to store differs from the one that was used, so it must be written.
    pub fn changed(&self) -> bool {
        self.miss.is_some() || !self.read.is_empty()
    }
}

/// The bags of `others` (every unit of the relation but this one, as `relation-list`
/// reports them) for a hook `hook` of `key`: from `cached` where it may stand for them, the
/// refreshed unit and any miss read with `read` (one `relation-get` each).
pub fn read_other_bags<E>(
    key: &CacheKey,
    hook: CacheHook,
    others: &BTreeSet<u32>,
    cached: Result<PeerCache, CacheMiss>,
    mut read: impl FnMut(u32) -> Result<Bag, E>,
) -> Result<OtherBags, E> {
    let usable = cached.and_then(|cache| cache.usable_for(key, hook, others).map(|()| cache));
    let (mut bags, miss) = match usable {
        Ok(cache) => (cache.bags, None),
        Err(miss) => (BTreeMap::new(), Some(miss)),
    };
    let to_read: Vec<u32> = match (&miss, hook) {
        (None, CacheHook::Refreshes(unit)) if others.contains(&unit) => vec![unit],
        (None, _) => Vec::new(),
        (Some(_), _) => others.iter().copied().collect(),
    };
    for &unit in &to_read {
        bags.insert(unit, read(unit)?);
    }
    let cache = PeerCache::new(key.clone(), bags.clone());
    Ok(OtherBags {
        bags: bags.into_iter().collect(),
        read: to_read,
        miss,
        cache,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> CacheKey {
        CacheKey {
            relation: "upgrade:4".into(),
            unit: 0,
            agent: Some("agent-1".into()),
        }
    }

    fn bag(state: &str) -> Bag {
        Bag::from([("state".to_owned(), state.to_owned())])
    }

    fn committed(unit: u32) -> Result<Bag, String> {
        Ok(bag(&format!("fresh-{unit}")))
    }

    fn others(units: &[u32]) -> BTreeSet<u32> {
        units.iter().copied().collect()
    }

    fn cache(units: &[u32]) -> PeerCache {
        PeerCache::new(
            key(),
            units.iter().map(|&u| (u, bag(&format!("cached-{u}")))),
        )
    }

    #[test]
    fn a_refreshing_hook_reads_only_the_refreshed_unit() {
        let got = read_other_bags(
            &key(),
            CacheHook::Refreshes(2),
            &others(&[1, 2, 3]),
            Ok(cache(&[1, 2, 3])),
            committed,
        )
        .expect("read");
        assert_eq!(got.read, [2]);
        assert_eq!(got.miss, None);
        assert_eq!(
            got.bags,
            [
                (1, bag("cached-1")),
                (2, bag("fresh-2")),
                (3, bag("cached-3"))
            ]
        );
        assert_eq!(got.cache.bags()[&2], bag("fresh-2"));
        assert!(got.changed());
    }

    #[test]
    fn a_hook_that_keeps_the_copies_reads_nothing_and_writes_nothing() {
        let got = read_other_bags(
            &key(),
            CacheHook::Keeps,
            &others(&[1, 2]),
            Ok(cache(&[1, 2])),
            |_| Err::<Bag, _>("no read expected"),
        )
        .expect("no read");
        assert!(got.read.is_empty());
        assert!(!got.changed());
        assert_eq!(got.cache, cache(&[1, 2]));
    }

    #[test]
    fn every_miss_reads_every_unit() {
        let damaged =
            PeerCache::from_json(&cache(&[1, 2]).to_json().replace("cached-1", "flipped"));
        let other_agent = PeerCache::new(
            CacheKey {
                agent: Some("agent-2".into()),
                ..key()
            },
            [(1, bag("x")), (2, bag("y"))],
        );
        let cases: Vec<(CacheHook, Result<PeerCache, CacheMiss>, &str)> = vec![
            (CacheHook::Keeps, Err(CacheMiss::Absent), "no cache"),
            (
                CacheHook::Invalidates,
                Ok(cache(&[1, 2])),
                "the hook drops it",
            ),
            (CacheHook::Keeps, damaged, "digest"),
            (CacheHook::Refreshes(1), Ok(other_agent), "restarted agent"),
            (CacheHook::Keeps, Ok(cache(&[1])), "a unit joined"),
            (
                CacheHook::Refreshes(2),
                Ok(cache(&[1, 2, 3])),
                "a unit left",
            ),
        ];
        for (hook, cached, why) in cases {
            let got =
                read_other_bags(&key(), hook, &others(&[1, 2]), cached, committed).expect("read");
            assert_eq!(got.read, [1, 2], "{why}");
            assert!(got.miss.is_some(), "{why}");
            assert_eq!(
                got.bags,
                [(1, bag("fresh-1")), (2, bag("fresh-2"))],
                "{why}"
            );
        }
    }

    #[test]
    fn stored_text_round_trips_and_damage_is_a_miss() {
        let stored = cache(&[1, 5]).to_json();
        assert_eq!(PeerCache::from_json(&stored), Ok(cache(&[1, 5])));
        assert!(matches!(
            PeerCache::from_json(&stored[..stored.len() / 2]),
            Err(CacheMiss::Unreadable(_))
        ));
        assert!(matches!(
            PeerCache::from_json(""),
            Err(CacheMiss::Unreadable(_))
        ));
        let flipped = stored.replace("cached-5", "cached-6");
        assert_eq!(PeerCache::from_json(&flipped), Err(CacheMiss::Corrupt));
        let newer = stored.replace("\"format\":1", "\"format\":2");
        assert!(matches!(
            PeerCache::from_json(&newer),
            Err(CacheMiss::Unreadable(_))
        ));
    }

    #[test]
    fn a_read_error_is_the_callers() {
        let got = read_other_bags(
            &key(),
            CacheHook::Refreshes(1),
            &others(&[1]),
            Err(CacheMiss::Absent),
            |_| Err::<Bag, _>("relation-get failed"),
        );
        assert_eq!(got, Err("relation-get failed"));
    }
}
