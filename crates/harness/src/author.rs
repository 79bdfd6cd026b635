//! The explorer for any charm: the same exhaustive and random searches over event orders with
//! faults, run on the charm author's own [`UpgradeHooks`] instead of the project's simulated
//! MySQL charm.
//!
//! The author implements [`ExploredCharm`]: for one unit's turn ([`UnitTurn`]: the revision's
//! dependency model and pinned workload version, the unit's workload state, the failure mode
//! armed for its upgrade), it returns the charm's hooks over an in-memory stand-in of its
//! workload. Everything else is the author's code as it ships: the pre-upgrade check, the
//! stack order ([`UpgradeHooks::build_upgrade_stack`]), the unit upgrade and its errors, the
//! texts. [`explore_charm`] then runs, for each failure mode the author names, the bounded
//! exhaustive search and the seeded random walks of [`crate::explore`] (hook errors, killed
//! agents, leadership moves, unit removal, a second refresh; the how-to's failed upgrade and
//! rollback), with every invariant of [`crate::violation`] checked after every step, and
//! reports the figures and, for each violation, the seed or trace that reaches it again
//! ([`walk_charm`] replays a seed).
//!
//! The three revisions the author gives ([`CharmRevisions`]) take the places of the how-to's
//! 42 (deployed), 43 (the upgrade) and 44 (the second refresh) in traces and narrations; the
//! application is named `mysql` there.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

use juju_upgrade::{
    CacheHook, ClusterNotReady, DependencyModel, Event, OtherBags, PeerSnapshot, UpgradeFailed,
    UpgradeHooks,
};

use crate::charm::{Charm, Run};
use crate::cluster::{Cluster, Revision, UpgradeRecord};
use crate::explore::{exhaustive_from, seeded_config, Config, Found, Report, Step, World};
use crate::fixtures::{ORIGINAL_REVISION, SECOND_REFRESH_REVISION, UPGRADE_REVISION};
use crate::rng::SplitMix64;
use crate::scenario::{describe, Operator, Phase};
use crate::violation::Violation;

/// One unit's turn, as the explorer hands it to the author's charm.
pub struct UnitTurn<'a> {
    /// The unit's number.
    pub unit: u32,
    /// The charm revision its agent runs (42, 43 or 44, see the module documentation).
    pub revision: u32,
    /// That revision's dependency model.
    pub model: &'a DependencyModel,
    /// The workload version that revision installs.
    pub pin: &'a str,
    /// The unit's workload, in the author's in-memory encoding; the explorer keeps it between
    /// turns. A healthy unit holds exactly the version it runs (the end checks compare it with
    /// the pin); after an agent is killed mid-upgrade it holds `stopped`.
    pub workload: &'a mut String,
    /// The failure mode armed for this turn: the workload upgrade (or rollback) the core asks
    /// for in it must fail that way.
    pub fault: Option<&'a str>,
}

/// A charm the explorer can run: the author's hooks over an in-memory workload.
pub trait ExploredCharm: Send + Sync {
    /// The ways the workload upgrade can fail, by name (e.g. `start-fails`). The explorer runs
    /// its searches once per mode; there must be at least one.
    fn failure_modes(&self) -> Vec<String>;

    /// The charm's hooks for one unit's turn.
    fn hooks<'a>(&'a self, turn: UnitTurn<'a>) -> Box<dyn UpgradeHooks + 'a>;
}

/// The author's charm and the failure mode armed in one exploration, as a cluster holds it.
#[derive(Clone)]
pub(crate) struct AuthorCharm {
    pub(crate) charm: Arc<dyn ExploredCharm>,
    pub(crate) fault: String,
}

impl fmt::Debug for AuthorCharm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AuthorCharm(fault {:?})", self.fault)
    }
}

/// The three revisions an exploration moves between.
#[derive(Clone, Debug)]
pub struct CharmRevisions {
    /// Deployed first, and what a rollback returns to.
    pub original: Revision,
    /// What the upgrade refreshes to.
    pub upgrade: Revision,
    /// What a second refresh in the middle of the upgrade goes to.
    pub second_refresh: Revision,
}

impl CharmRevisions {
    fn numbered(&self) -> Vec<(u32, Revision)> {
        vec![
            (ORIGINAL_REVISION, self.original.clone()),
            (UPGRADE_REVISION, self.upgrade.clone()),
            (SECOND_REFRESH_REVISION, self.second_refresh.clone()),
        ]
    }
}

/// What to search, for each failure mode.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The exhaustive search (its units, faults, script; `vary` is ignored).
    pub exhaustive: Config,
    /// The exhaustive search stops expanding new states after this many.
    pub max_states: u64,
    /// The random walks (with `vary`, the leader and the failing upgrade and rollback come
    /// from each seed).
    pub random: Config,
    /// One walk per seed.
    pub seeds: std::ops::Range<u64>,
}

impl Plan {
    /// A quick plan: every order of 2 units exhaustively, with at most one fault; 200 seeded
    /// walks of 3 units, varied, with up to two faults.
    pub fn quick() -> Plan {
        let exhaustive = Config {
            max_faults: 1,
            ..Config::new(2)
        };
        let random = Config {
            vary: true,
            max_faults: 2,
            fault_percent: 10,
            ..Config::new(3)
        };
        Plan {
            exhaustive,
            max_states: 200_000,
            random,
            seeds: 0..200,
        }
    }
}

/// What the explorer found for one failure mode.
#[derive(Clone, Debug)]
pub struct ModeReport {
    /// The failure mode armed.
    pub fault: String,
    /// The exhaustive search.
    pub exhaustive: Report,
    /// The random walks.
    pub random: Report,
}

impl ModeReport {
    /// Invariant violations found by either search.
    pub fn violations(&self) -> u64 {
        self.exhaustive.violations + self.random.violations
    }

    /// The figures, one line per search, then one line per violation kept: its message and the
    /// seed (for [`walk_charm`]) or the trace that reaches it again.
    pub fn lines(&self) -> Vec<String> {
        let mut lines = vec![
            format!("[fault {}] {}", self.fault, self.exhaustive.closing_line()),
            format!("[fault {}] {}", self.fault, self.random.closing_line()),
        ];
        for found in self.exhaustive.examples.iter().chain(&self.random.examples) {
            lines.push(describe_found(&self.fault, found));
        }
        lines
    }
}

fn describe_found(fault: &str, found: &Found) -> String {
    let again = match found.seed {
        Some(seed) => format!("replay: seed {seed}"),
        None => format!(
            "replay: trace {}",
            crate::explore::format_trace(&found.trace)
        ),
    };
    format!("  violation [fault {fault}] {}; {again}", found.message)
}

/// Why the charm cannot be explored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExploreError {
    /// The charm names no failure mode.
    #[error(
        "the charm names no failure mode: the explorer needs at least one to fail an upgrade with"
    )]
    NoFailureMode,
    /// Armed with this mode, the charm's upgrade of a unit still succeeded: the searches would
    /// not fail the upgrade they mean to fail.
    #[error("failure mode {0:?} armed, the charm's upgrade_unit still succeeded")]
    FaultIgnored(String),
}

/// Runs `plan` on the author's charm, once per failure mode, and returns each mode's figures.
///
/// Before searching, each mode is checked to make `upgrade_unit` fail on a unit of the
/// original revision upgrading to the new one ([`ExploreError::FaultIgnored`] otherwise).
pub fn explore_charm(
    charm: Arc<dyn ExploredCharm>,
    revisions: &CharmRevisions,
    plan: &Plan,
) -> Result<Vec<ModeReport>, ExploreError> {
    let modes = charm.failure_modes();
    if modes.is_empty() {
        return Err(ExploreError::NoFailureMode);
    }
    for mode in &modes {
        check_mode(charm.as_ref(), revisions, mode)?;
    }
    let mut reports = Vec::new();
    for fault in modes {
        let author = AuthorCharm {
            charm: Arc::clone(&charm),
            fault: fault.clone(),
        };
        let mut exhaustive_config = plan.exhaustive;
        exhaustive_config.vary = false;
        let root = world(&author, revisions, &exhaustive_config);
        let mut exhaustive = exhaustive_from(&exhaustive_config, root, plan.max_states);
        exhaustive.config = format!("{} charm-fault={fault}", exhaustive.config);
        let mut random = random_walks(&author, revisions, &plan.random, plan.seeds.clone());
        random.config = format!("{} charm-fault={fault}", random.config);
        reports.push(ModeReport {
            fault,
            exhaustive,
            random,
        });
    }
    Ok(reports)
}

/// A unit of the original revision upgrades to the new one with `mode` armed: it must fail.
fn check_mode(
    charm: &dyn ExploredCharm,
    revisions: &CharmRevisions,
    mode: &str,
) -> Result<(), ExploreError> {
    let mut workload = revisions.original.workload.clone();
    let turn = UnitTurn {
        unit: 0,
        revision: UPGRADE_REVISION,
        model: &revisions.upgrade.model,
        pin: &revisions.upgrade.workload,
        workload: &mut workload,
        fault: Some(mode),
    };
    let mut hooks = charm.hooks(turn);
    let mut view = PeerSnapshot::new("mysql", 0, true);
    view.app_bag
        .insert(juju_upgrade::wire::STACK_KEY.into(), "[0]".into());
    match hooks.upgrade_unit(&view, &mut |_| {}) {
        Ok(()) => Err(ExploreError::FaultIgnored(mode.to_owned())),
        Err(_) => Ok(()),
    }
}

/// A fresh deployment of the author's charm at the original revision.
fn world(author: &AuthorCharm, revisions: &CharmRevisions, config: &Config) -> World {
    let mut cluster = Cluster::builder(config.units)
        .leader(config.leader)
        .revisions(&revisions.numbered())
        .charm_versions(config.beyond_v0)
        .pause_setting(config.pause)
        .keep_logs(false)
        .deploy();
    cluster.author = Some(author.clone());
    World {
        cluster,
        operator: Operator::new(config.script),
        faults_used: 0,
        refreshed_again: false,
        moves_used: 0,
        steps: 0,
    }
}

/// One seeded walk of the author's charm (the walk [`crate::explore::walk`] takes, on this
/// charm with `fault` armed): replays a seed a report names.
pub fn walk_charm(
    charm: Arc<dyn ExploredCharm>,
    fault: &str,
    revisions: &CharmRevisions,
    config: &Config,
    seed: u64,
) -> crate::explore::Walk {
    let author = AuthorCharm {
        charm,
        fault: fault.to_owned(),
    };
    walk(&author, revisions, config, seed)
}

fn walk(
    author: &AuthorCharm,
    revisions: &CharmRevisions,
    config: &Config,
    seed: u64,
) -> crate::explore::Walk {
    let mut rng = SplitMix64::new(seed);
    let chosen = seeded_config(config, &mut rng);
    let mut world = world(author, revisions, &chosen);
    let mut result = crate::explore::Walk {
        config: Some(chosen),
        ..Default::default()
    };
    result.fingerprints.push(world.fingerprint());
    loop {
        let steps = world.enabled(&chosen);
        if steps.is_empty() {
            if world.operator.phase != Phase::Done {
                let reason = format!(
                    "no event can leave this state (operator at {:?}): {}",
                    world.operator.phase,
                    describe(&world.cluster)
                );
                result.violations.push((reason, result.trace.len()));
            }
            result.ending = world.operator.ending;
            break;
        }
        let (faults, normal): (Vec<Step>, Vec<Step>) = steps
            .into_iter()
            .partition(|step| step.is_fault() || step.is_operator_move());
        let step =
            if !faults.is_empty() && (normal.is_empty() || rng.chance(chosen.fault_percent, 100)) {
                faults[rng.below(faults.len())]
            } else {
                normal[rng.below(normal.len())]
            };
        let problems = world.apply(step, &chosen);
        result.trace.push(step);
        result.fingerprints.push(world.fingerprint());
        if step.is_fault() {
            result.faults += 1;
        }
        if !problems.is_empty() {
            let at = result.trace.len();
            result
                .violations
                .extend(problems.into_iter().map(|message| (message, at)));
            break;
        }
        if world.steps > chosen.max_steps {
            let reason = format!(
                "livelock: no end after {} steps: {}",
                chosen.max_steps,
                describe(&world.cluster)
            );
            result.violations.push((reason, result.trace.len()));
            break;
        }
    }
    result
}

fn random_walks(
    author: &AuthorCharm,
    revisions: &CharmRevisions,
    config: &Config,
    seeds: std::ops::Range<u64>,
) -> Report {
    let mut report = Report {
        mode: "random",
        config: config.to_string(),
        ..Report::default()
    };
    let mut seen: HashSet<u64> = HashSet::new();
    let mut kinds: HashSet<String> = HashSet::new();
    for seed in seeds {
        let walk = walk(author, revisions, config, seed);
        report.interleavings += 1;
        report.transitions += walk.trace.len() as u64;
        report.faults_injected += u64::from(walk.faults);
        seen.extend(walk.fingerprints.iter().copied());
        for (message, at) in walk.violations {
            report.violations += 1;
            // One example per kind (the message without its numbers), as the explorer keeps.
            let kind: String = message
                .chars()
                .filter(|c| !c.is_ascii_digit())
                .take(48)
                .collect();
            if kinds.insert(kind) && report.examples.len() < 12 {
                report.examples.push(Found {
                    message,
                    trace: walk.trace[..at].to_vec(),
                    seed: Some(seed),
                });
            }
        }
        if walk.ending == Some(crate::scenario::Ending::UnpreparedRefresh) {
            report.unprepared_refresh_ends += 1;
        }
    }
    report.states = seen.len() as u64;
    report
}

/// The author's hooks as the cluster runs them: every call goes to the author's, and the
/// workload upgrade is recorded for the invariants (who upgraded, from what, whether it
/// failed, the stack top the core saw).
struct Recording<'a> {
    inner: Box<dyn UpgradeHooks + 'a>,
    unit: u32,
    from: String,
    to: String,
    upgraded: Option<UpgradeRecord>,
    top_at_upgrade: Option<u32>,
}

impl UpgradeHooks for Recording<'_> {
    fn dependency_model(&self) -> &DependencyModel {
        self.inner.dependency_model()
    }

    fn pre_upgrade_check(&mut self, view: &PeerSnapshot) -> Result<(), ClusterNotReady> {
        self.inner.pre_upgrade_check(view)
    }

    fn build_upgrade_stack(&mut self, view: &PeerSnapshot) -> Result<Vec<u32>, ClusterNotReady> {
        self.inner.build_upgrade_stack(view)
    }

    fn upgrade_unit(
        &mut self,
        view: &PeerSnapshot,
        progress: &mut dyn FnMut(&str),
    ) -> Result<(), UpgradeFailed> {
        self.top_at_upgrade = view.upgrade_stack().ok().and_then(|stack| stack.top());
        let result = self.inner.upgrade_unit(view, progress);
        self.upgraded = Some(UpgradeRecord {
            unit: self.unit,
            from: self.from.clone(),
            to: self.to.clone(),
            failed: result.is_err(),
        });
        result
    }

    fn workload_version(&mut self, view: &PeerSnapshot) -> Option<String> {
        self.inner.workload_version(view)
    }

    fn failed_status(&self) -> String {
        self.inner.failed_status()
    }

    fn rollback_instructions(&self, app: &str) -> String {
        self.inner.rollback_instructions(app)
    }
}

/// [`crate::charm::run_hook`] on the author's charm: the same two-step read and calls, and
/// the same peer cache.
pub(crate) fn run_hook(
    author: &AuthorCharm,
    event: &Event,
    own_and_app: PeerSnapshot,
    hook: CacheHook,
    others: impl FnOnce(CacheHook) -> (OtherBags, Option<Violation>),
    charm: Charm<'_>,
) -> Run {
    let input = crate::charm::charm_input(event, own_and_app, &charm);
    let mut workload = charm.workload.clone();
    let from = workload.clone();
    let fault = charm.upgrade_fails.then_some(author.fault.as_str());
    let (mut run, upgraded, top_at_upgrade) = {
        let turn = UnitTurn {
            unit: charm.unit,
            revision: charm.revision,
            model: charm.model,
            pin: charm.pin,
            workload: &mut workload,
            fault,
        };
        let mut hooks = Recording {
            inner: author.charm.hooks(turn),
            unit: charm.unit,
            from,
            to: charm.pin.to_owned(),
            upgraded: None,
            top_at_upgrade: None,
        };
        let run = crate::charm::run_core(input, &mut hooks, hook, others);
        (run, hooks.upgraded, hooks.top_at_upgrade)
    };
    run.workload = workload;
    run.upgraded = upgraded;
    run.top_at_upgrade = top_at_upgrade;
    run
}
