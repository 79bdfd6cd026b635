//! The explorer: every order in which Juju may deliver hooks to the units, with faults injected
//! at every step, through the operator's script; invariants checked after every step.
//!
//! Two modes over the same [`World`] and [`Step`]s:
//! - [`exhaustive`]: depth-first search over every enabled step of every state, with states
//!   fingerprinted so that a state reached again by another order is not searched twice. It
//!   counts the interleavings (complete step sequences) the searched graph contains;
//! - [`random_walks`]: one seeded walk per seed, for configurations too large to enumerate.
//!
//! Each violation comes with the step trace that reaches it; [`replay`] and [`walk`] run one
//! trace or one seed again and narrate it.

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::hash::{Hash, Hasher};

use juju_upgrade::Event;

use crate::cluster::{Cluster, Task};
use crate::fixtures::{ORIGINAL_REVISION, SECOND_REFRESH_REVISION};
use crate::literal;
use crate::rng::SplitMix64;
use crate::scenario::{describe, Ending, Operator, OperatorStep, Phase, Script};

/// Which kinds of fault the explorer injects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Faults {
    /// A running hook exits non-zero (writes dropped, retried first).
    pub hook_error: bool,
    /// A unit's agent is killed mid-hook (writes dropped, workload half done, re-run).
    pub kill: bool,
    /// Leadership moves to another unit.
    pub leader_move: bool,
    /// A unit is removed from the application.
    pub removal: bool,
    /// The operator refreshes again while units are upgrading (once per run).
    pub second_refresh: bool,
    /// A unit is in error (a failed `update-status`) when the refresh lands, and Juju swaps
    /// its charm at the retry without `upgrade-charm`; also the swap of a unit in error from
    /// any other failed hook. Beyond v0 only: v0 records no charm versions to notice it by.
    pub missed_upgrade_charm: bool,
    /// What could make a unit's peer cache lie (see [`crate::peer_cache`]): an agent killed
    /// before the charm wrote its cache, leadership moving away and back, a unit removed and
    /// added again with the same number.
    pub cache: bool,
}

impl Faults {
    /// Every kind.
    pub const ALL: Faults = Faults {
        hook_error: true,
        kill: true,
        leader_move: true,
        removal: true,
        second_refresh: true,
        missed_upgrade_charm: true,
        cache: true,
    };

    /// No faults.
    pub const NONE: Faults = Faults {
        hook_error: false,
        kill: false,
        leader_move: false,
        removal: false,
        second_refresh: false,
        missed_upgrade_charm: false,
        cache: false,
    };

    /// Parses a comma-separated list of `error`, `kill`, `leader`, `remove`, `refresh`, `swap`,
    /// `cache`, or `all` / `none`.
    pub fn parse(text: &str) -> Result<Faults, String> {
        let mut faults = Faults::NONE;
        for word in text.split(',').map(str::trim).filter(|w| !w.is_empty()) {
            match word {
                "all" => faults = Faults::ALL,
                "none" => faults = Faults::NONE,
                "error" => faults.hook_error = true,
                "kill" => faults.kill = true,
                "leader" => faults.leader_move = true,
                "remove" => faults.removal = true,
                "refresh" => faults.second_refresh = true,
                "swap" => faults.missed_upgrade_charm = true,
                "cache" => faults.cache = true,
                other => return Err(format!("unknown fault kind {other:?}")),
            }
        }
        Ok(faults)
    }
}

impl fmt::Display for Faults {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = [
            (self.hook_error, "error"),
            (self.kill, "kill"),
            (self.leader_move, "leader"),
            (self.removal, "remove"),
            (self.second_refresh, "refresh"),
            (self.missed_upgrade_charm, "swap"),
            (self.cache, "cache"),
        ]
        .into_iter()
        .filter_map(|(on, name)| on.then_some(name))
        .collect();
        if names.is_empty() {
            f.write_str("none")
        } else {
            f.write_str(&names.join(","))
        }
    }
}

/// What is explored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Config {
    /// Units deployed (2-5 in practice).
    pub units: u32,
    /// The first leader.
    pub leader: u32,
    /// The scripted failures and recoveries.
    pub script: Script,
    /// The kinds of fault injected.
    pub faults: Faults,
    /// At most this many faults per run.
    pub max_faults: u32,
    /// A run longer than this is a livelock.
    pub max_steps: u32,
    /// Hooks of different units may overlap (begin, others run, commit later); otherwise each
    /// hook is begun and committed with no other hook in between.
    pub overlap: bool,
    /// Random walks only: the chance, in percent, of injecting a fault at a step where one is
    /// possible.
    pub fault_percent: u32,
    /// Random walks only: draw the first leader and the failing upgrade and rollback from the
    /// seed instead of using `leader` and `script`.
    pub vary: bool,
    /// The charm reports its versions, which turns on the core's behaviour beyond v0
    /// (automatic rollback detection, convergence on a second refresh, ...).
    pub beyond_v0: bool,
    /// The `pause-after-unit-refresh` setting deployed (`None`: the charm has no such option).
    pub pause: Option<&'static str>,
    /// Beyond v0, while the upgrade rolls: the operator may also change the pause setting, run
    /// `resume-upgrade` on any unit and `force-upgrade` with any one skip on any unit, at any
    /// step (left running, like hooks, when they overlap), and accept a failed unit with
    /// `force-upgrade skip-health-check` instead of recovering. With `vary`, the deployed
    /// pause setting is drawn from the seed.
    pub operator_moves: bool,
    /// At most this many of those moves per run (the forced acceptance not counted).
    pub max_operator_moves: u32,
    /// Beyond v0: once the upgrade is prepared, the operator does only what the application
    /// status names ([`crate::literal`]), in a quiet cluster, instead of the how-to's script;
    /// a status naming nothing, a command that cannot run or changes nothing is a violation.
    pub literal_operator: bool,
}

impl Config {
    /// `units` units, leader 0, the how-to's flow (first unit fails, rollback), every fault kind,
    /// at most one fault per run, overlapping hooks.
    pub fn new(units: u32) -> Self {
        Config {
            units,
            leader: 0,
            script: Script::default(),
            faults: Faults::ALL,
            max_faults: 1,
            max_steps: 400 + 150 * units,
            overlap: true,
            fault_percent: 5,
            vary: false,
            beyond_v0: false,
            pause: None,
            operator_moves: false,
            max_operator_moves: 3,
            literal_operator: false,
        }
    }
}

impl fmt::Display for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let offset = |o: Option<u32>| o.map_or_else(|| "none".to_owned(), |n| n.to_string());
        write!(
            f,
            "{} units={} leader={} fail-upgrade={} fail-rollback={} recoveries<={} faults={} max-faults={} overlap={}{}{}",
            if self.beyond_v0 { "beyond-v0" } else { "v0" },
            self.units,
            if self.vary { "seeded".to_owned() } else { self.leader.to_string() },
            if self.vary { "seeded".to_owned() } else { offset(self.script.fail_upgrade) },
            if self.vary { "seeded".to_owned() } else { offset(self.script.fail_rollback) },
            self.script.max_recoveries,
            self.faults,
            self.max_faults,
            self.overlap,
            if self.operator_moves {
                format!(
                    " pause={} operator-moves<={}",
                    if self.vary { "seeded" } else { self.pause.unwrap_or("unset") },
                    self.max_operator_moves
                )
            } else {
                String::new()
            },
            if self.literal_operator && self.beyond_v0 {
                " operator=literal"
            } else {
                ""
            }
        )
    }
}

/// One thing that happens next.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Step {
    /// A unit starts its next hook (or the retry of a failed one).
    Begin(u32),
    /// A unit's running hook ends with exit code 0.
    Commit(u32),
    /// Fault: a unit's running hook exits non-zero.
    HookError(u32),
    /// Fault: a unit's agent is killed mid-hook.
    Kill(u32),
    /// Fault: leadership moves to this unit.
    MoveLeader(u32),
    /// Fault: this unit is removed.
    Remove(u32),
    /// Fault: a second `juju refresh` to this revision.
    Refresh(u32),
    /// Fault: this unit's `update-status` fails just before the operator's refresh, so the
    /// unit is in error when the refresh lands.
    ErrorAtRefresh(u32),
    /// Juju swaps the charm of this unit in error at its retry, without `upgrade-charm`.
    SwapCharm(u32),
    /// Fault: a unit's agent is killed mid-hook, before the charm wrote its peer cache.
    KillBeforeCacheWrite(u32),
    /// Fault: leadership moves to this unit and back before either runs a hook.
    LeaderAwayAndBack(u32),
    /// Fault: this unit is removed and a new one joins with the same number.
    Rejoin(u32),
    /// The operator's next step.
    Operator(OperatorStep),
    /// Operator move: `juju config mysql pause-after-unit-refresh=<setting>`.
    SetPause(&'static str),
    /// Operator move: `juju run mysql/<unit> resume-upgrade`.
    Resume(u32),
    /// Operator move: `juju run mysql/<unit> force-upgrade` with the skips given (bits:
    /// 1 compatibility check, 2 pre-upgrade check, 4 health check).
    Force(u32, u8),
}

/// The pause settings an operator move sets.
const PAUSE_SETTINGS: [&str; 3] = ["none", "first", "all"];

/// The `force-upgrade` event for the skip bits of [`Step::Force`].
fn force_event(skips: u8) -> Event {
    Event::ForceUpgrade {
        skip_compatibility_check: skips & 1 != 0,
        skip_pre_upgrade_check: skips & 2 != 0,
        skip_health_check: skips & 4 != 0,
    }
}

impl Step {
    /// Whether this step is an injected fault.
    pub fn is_fault(self) -> bool {
        matches!(
            self,
            Step::HookError(_)
                | Step::Kill(_)
                | Step::MoveLeader(_)
                | Step::Remove(_)
                | Step::Refresh(_)
                | Step::ErrorAtRefresh(_)
                | Step::KillBeforeCacheWrite(_)
                | Step::LeaderAwayAndBack(_)
                | Step::Rejoin(_)
        )
    }

    /// Whether this step is an operator move outside the how-to's script.
    pub fn is_operator_move(self) -> bool {
        matches!(self, Step::SetPause(_) | Step::Resume(_) | Step::Force(..))
    }

    /// Parses the short form written by `Display` (`b1`, `c1`, `e1`, `k1`, `l1`, `x1`, `r44`,
    /// `s1` (swap), `E1` (error at refresh),
    /// `pfirst`, `u1`, `f1.4`, `O:prepare`, `O:resume/1`, ...).
    pub fn parse(token: &str) -> Result<Step, String> {
        let unit_after = |prefix: &str, name: &str| -> Result<u32, String> {
            name.strip_prefix(prefix)
                .and_then(|n| n.parse().ok())
                .ok_or_else(|| format!("operator step {name:?} needs a unit"))
        };
        if let Some(setting) = token.strip_prefix('p') {
            return PAUSE_SETTINGS
                .iter()
                .find(|&&known| known == setting)
                .map(|&known| Step::SetPause(known))
                .ok_or_else(|| format!("unknown pause setting in {token:?}"));
        }
        if let Some(rest) = token.strip_prefix('f') {
            let parsed = rest
                .split_once('.')
                .and_then(|(unit, skips)| Some((unit.parse().ok()?, skips.parse().ok()?)));
            return match parsed {
                Some((unit, skips)) if skips < 8 => Ok(Step::Force(unit, skips)),
                _ => Err(format!("step {token:?} needs f<unit>.<skips 0-7>")),
            };
        }
        if let Some(name) = token.strip_prefix("O:") {
            let step = match name {
                "prepare" => OperatorStep::Prepare,
                "refresh" => OperatorStep::Refresh,
                "recover" => OperatorStep::Recover,
                "rollback" => OperatorStep::RollBack,
                "prepare-refreshed" => OperatorStep::PrepareRefreshed,
                "finish" => OperatorStep::Finish,
                other if other.starts_with("resume/") => {
                    OperatorStep::Resume(unit_after("resume/", other)?)
                }
                other if other.starts_with("force/") => {
                    OperatorStep::Force(unit_after("force/", other)?)
                }
                other => return Err(format!("unknown operator step {other:?}")),
            };
            return Ok(Step::Operator(step));
        }
        let mut chars = token.chars();
        let kind = chars.next().ok_or("empty step")?;
        let number: u32 = chars
            .as_str()
            .parse()
            .map_err(|_| format!("step {token:?} needs a number after {kind:?}"))?;
        Ok(match kind {
            'b' => Step::Begin(number),
            'c' => Step::Commit(number),
            'e' => Step::HookError(number),
            'k' => Step::Kill(number),
            'l' => Step::MoveLeader(number),
            'x' => Step::Remove(number),
            'r' => Step::Refresh(number),
            's' => Step::SwapCharm(number),
            'E' => Step::ErrorAtRefresh(number),
            'w' => Step::KillBeforeCacheWrite(number),
            'a' => Step::LeaderAwayAndBack(number),
            'j' => Step::Rejoin(number),
            'u' => Step::Resume(number),
            other => return Err(format!("unknown step kind {other:?} in {token:?}")),
        })
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Begin(u) => write!(f, "b{u}"),
            Step::Commit(u) => write!(f, "c{u}"),
            Step::HookError(u) => write!(f, "e{u}"),
            Step::Kill(u) => write!(f, "k{u}"),
            Step::MoveLeader(u) => write!(f, "l{u}"),
            Step::Remove(u) => write!(f, "x{u}"),
            Step::Refresh(rev) => write!(f, "r{rev}"),
            Step::SwapCharm(u) => write!(f, "s{u}"),
            Step::ErrorAtRefresh(u) => write!(f, "E{u}"),
            Step::KillBeforeCacheWrite(u) => write!(f, "w{u}"),
            Step::LeaderAwayAndBack(u) => write!(f, "a{u}"),
            Step::Rejoin(u) => write!(f, "j{u}"),
            Step::SetPause(setting) => write!(f, "p{setting}"),
            Step::Resume(u) => write!(f, "u{u}"),
            Step::Force(u, skips) => write!(f, "f{u}.{skips}"),
            Step::Operator(step) => {
                let name = match step {
                    OperatorStep::Prepare => "prepare",
                    OperatorStep::Refresh => "refresh",
                    OperatorStep::Recover => "recover",
                    OperatorStep::RollBack => "rollback",
                    OperatorStep::PrepareRefreshed => "prepare-refreshed",
                    OperatorStep::Resume(unit) => return write!(f, "O:resume/{unit}"),
                    OperatorStep::Force(unit) => return write!(f, "O:force/{unit}"),
                    OperatorStep::Finish => "finish",
                };
                write!(f, "O:{name}")
            }
        }
    }
}

/// Writes a trace in its short, replayable form.
pub fn format_trace(trace: &[Step]) -> String {
    let tokens: Vec<String> = trace.iter().map(ToString::to_string).collect();
    tokens.join(" ")
}

/// Parses a trace written by [`format_trace`].
pub fn parse_trace(text: &str) -> Result<Vec<Step>, String> {
    text.split_whitespace().map(Step::parse).collect()
}

/// The cluster, the operator and the fault budget: everything one run is at.
#[derive(Clone, Debug)]
pub struct World {
    /// The application.
    pub cluster: Cluster,
    /// The operator.
    pub operator: Operator,
    /// Faults injected so far.
    pub faults_used: u32,
    /// A second refresh was injected.
    pub refreshed_again: bool,
    /// Operator moves taken so far.
    pub moves_used: u32,
    /// Steps taken so far.
    pub steps: u32,
}

impl World {
    /// A freshly deployed application at the original revision.
    pub fn new(config: &Config) -> Self {
        let cluster = Cluster::builder(config.units)
            .leader(config.leader)
            .charm_versions(config.beyond_v0)
            .pause_setting(config.pause)
            .keep_logs(false)
            .deploy();
        World {
            cluster,
            operator: Operator::new(config.script),
            faults_used: 0,
            refreshed_again: false,
            moves_used: 0,
            steps: 0,
        }
    }

    /// The steps that can happen next, hooks first, then the operator, then operator moves,
    /// then faults.
    pub fn enabled(&self, config: &Config) -> Vec<Step> {
        let mut steps = Vec::new();
        if self.operator.phase == Phase::Done {
            return steps;
        }
        let cluster = &self.cluster;
        let busy = cluster.busy_units();
        if config.overlap || busy.is_empty() {
            steps.extend(cluster.ready_units().into_iter().map(Step::Begin));
        }
        steps.extend(busy.iter().copied().map(Step::Commit));
        if self.follows_the_status(config) {
            if cluster.is_quiet() {
                let (step, _) = literal::next_step(&self.operator, cluster);
                steps.push(Step::Operator(step));
            }
        } else if let Some(step) = self.operator.next_step(cluster) {
            steps.push(Step::Operator(step));
        }
        let moves = config.operator_moves && config.beyond_v0;
        if moves {
            steps.extend(
                self.operator
                    .alternatives(cluster)
                    .into_iter()
                    .map(Step::Operator),
            );
        }
        if moves
            && self.moves_used < config.max_operator_moves
            && self.operator.phase == Phase::Rolling
        {
            steps.extend(
                PAUSE_SETTINGS
                    .iter()
                    .filter(|&&setting| cluster.pause_setting() != Some(setting))
                    .map(|&setting| Step::SetPause(setting)),
            );
            for &unit in cluster.units.keys().filter(|&&u| !cluster.is_busy(u)) {
                steps.push(Step::Resume(unit));
                // Skipping the pre-upgrade check prepares a new upgrade, which the operator's
                // script does not follow with a refresh: not drawn.
                steps.extend([1, 4].map(|skips| Step::Force(unit, skips)));
            }
        }
        let faults = config.faults;
        if faults.missed_upgrade_charm && config.beyond_v0 {
            steps.extend(
                cluster
                    .units
                    .keys()
                    .copied()
                    .filter(|&u| cluster.can_swap_charm(u))
                    .map(Step::SwapCharm),
            );
        }
        if self.faults_used >= config.max_faults {
            return steps;
        }
        // A hook fails or its agent dies; an action left running is not retried, so only
        // hooks are.
        let in_hooks: Vec<u32> = busy
            .iter()
            .copied()
            .filter(|&u| matches!(cluster.running(u), Some(Task::Hook(_))))
            .collect();
        if faults.hook_error {
            steps.extend(in_hooks.iter().copied().map(Step::HookError));
        }
        if faults.kill {
            steps.extend(in_hooks.iter().copied().map(Step::Kill));
        }
        if faults.leader_move {
            steps.extend(
                cluster
                    .units
                    .keys()
                    .copied()
                    .filter(|&u| u != cluster.leader)
                    .map(Step::MoveLeader),
            );
        }
        if faults.removal && cluster.units.len() > 1 {
            steps.extend(cluster.units.keys().copied().map(Step::Remove));
        }
        if faults.cache {
            steps.extend(in_hooks.iter().copied().map(Step::KillBeforeCacheWrite));
            steps.extend(
                cluster
                    .units
                    .keys()
                    .copied()
                    .filter(|&u| u != cluster.leader)
                    .map(Step::LeaderAwayAndBack),
            );
            // Before the upgrade is prepared: a unit joining mid-upgrade is another story
            // than the cache's (Juju never reuses a unit's number anyway).
            if cluster.units.len() > 1 && self.operator.phase == Phase::Deploying {
                steps.extend(cluster.units.keys().copied().map(Step::Rejoin));
            }
        }
        let refresh_next = matches!(self.operator.phase, Phase::Prepared | Phase::Recovered);
        if faults.missed_upgrade_charm && config.beyond_v0 && refresh_next {
            steps.extend(
                cluster
                    .units
                    .keys()
                    .copied()
                    .filter(|&u| !cluster.is_busy(u) && cluster.units[&u].retry.is_none())
                    .map(Step::ErrorAtRefresh),
            );
        }
        if faults.second_refresh && !self.refreshed_again && self.operator.phase == Phase::Rolling {
            let revision = if self.operator.rolling_back {
                ORIGINAL_REVISION
            } else {
                SECOND_REFRESH_REVISION
            };
            steps.push(Step::Refresh(revision));
        }
        steps
    }

    /// Takes `step` and returns the invariant violations it led to.
    pub fn apply(&mut self, step: Step, config: &Config) -> Vec<String> {
        let mut problems = Vec::new();
        let cluster = &mut self.cluster;
        // An operator's action overlaps hooks as a hook does: begun now, committed later.
        let act = |cluster: &mut Cluster, unit: u32, action: Event| {
            if config.overlap {
                cluster.begin_action(unit, action)
            } else {
                cluster.run_action(unit, action)
            }
        };
        match step {
            Step::Begin(unit) => {
                cluster.begin(unit);
            }
            Step::Commit(unit) => cluster.commit(unit),
            Step::HookError(unit) => cluster.fail_hook(unit),
            Step::Kill(unit) => cluster.kill_agent(unit),
            Step::MoveLeader(unit) => cluster.move_leader(unit),
            Step::Remove(unit) => cluster.remove_unit(unit),
            Step::KillBeforeCacheWrite(unit) => cluster.kill_agent_before_cache_write(unit),
            Step::LeaderAwayAndBack(unit) => cluster.move_leader_and_back(unit),
            Step::Rejoin(unit) => cluster.rejoin_unit(unit),
            Step::Refresh(revision) => {
                cluster.refresh(revision);
                self.refreshed_again = true;
            }
            Step::ErrorAtRefresh(unit) => cluster.fail_update_status(unit),
            Step::SwapCharm(unit) => cluster.swap_charm(unit),
            Step::Operator(operator_step) => {
                let literal = self.operator.phase != Phase::Deploying
                    && config.literal_operator
                    && config.beyond_v0;
                let before = literal.then(|| {
                    let (_, problem) = literal::next_step(&self.operator, cluster);
                    problems.extend(problem);
                    let mut hasher = DefaultHasher::new();
                    cluster.fingerprint(&mut hasher);
                    hasher.finish()
                });
                problems.extend(self.operator.perform(operator_step, cluster));
                if let Some(before) = before {
                    let mut hasher = DefaultHasher::new();
                    cluster.fingerprint(&mut hasher);
                    if operator_step != OperatorStep::Finish && hasher.finish() == before {
                        problems.push(format!(
                            "the application status named `{}`, which changed nothing: {}",
                            operator_step.describe(),
                            describe(cluster)
                        ));
                    }
                }
            }
            Step::SetPause(setting) => cluster.set_pause_setting(Some(setting)),
            Step::Resume(unit) => {
                act(cluster, unit, Event::ResumeUpgrade);
            }
            Step::Force(unit, skips) => {
                let outcome = act(cluster, unit, force_event(skips));
                if outcome.failed.is_none() && skips & 4 != 0 {
                    self.operator.accept_forced(unit);
                }
            }
        }
        if step.is_fault() {
            self.faults_used += 1;
        }
        if step.is_operator_move() {
            self.moves_used += 1;
        }
        self.steps += 1;
        problems.extend(self.cluster.violations.drain(..).map(|v| v.to_string()));
        problems.extend(self.check_state());
        problems
    }

    /// Whether the operator now acts on the application status alone (see
    /// [`Config::literal_operator`]): from the preparation on.
    fn follows_the_status(&self, config: &Config) -> bool {
        config.literal_operator
            && config.beyond_v0
            && matches!(
                self.operator.phase,
                Phase::Prepared | Phase::Rolling | Phase::Recovered
            )
    }

    /// The invariants that hold in every state.
    fn check_state(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let cluster = &self.cluster;
        let upgrading: Vec<u32> = cluster
            .units
            .keys()
            .copied()
            .filter(|&u| cluster.state(u) == Some("upgrading"))
            .collect();
        if upgrading.len() > 1 {
            problems.push(format!("units {upgrading:?} are upgrading together"));
        }
        let in_flux: Vec<u32> = cluster
            .units
            .iter()
            .filter(|(_, sim)| sim.workload_in_flux)
            .map(|(&u, _)| u)
            .collect();
        if in_flux.len() > 1 {
            problems.push(format!(
                "the workloads of units {in_flux:?} are being changed together"
            ));
        }
        for unit in cluster.stack() {
            if !cluster.units.contains_key(&unit) && !cluster.removed.contains(&unit) {
                problems.push(format!("the stack names unit {unit}, which never existed"));
            }
        }
        if cluster.is_quiet() {
            let gone: Vec<u32> = cluster
                .stack()
                .into_iter()
                .filter(|u| cluster.removed.contains(u))
                .collect();
            if !gone.is_empty() {
                problems.push(format!(
                    "every hook has run but the stack still holds removed units {gone:?}: {}",
                    describe(cluster)
                ));
            }
        }
        problems
    }

    /// A 64-bit fingerprint of everything that decides what can happen from here.
    pub fn fingerprint(&self) -> u64 {
        let mut hasher = DefaultHasher::new();
        self.cluster.fingerprint(&mut hasher);
        self.operator.hash(&mut hasher);
        self.faults_used.hash(&mut hasher);
        self.refreshed_again.hash(&mut hasher);
        self.moves_used.hash(&mut hasher);
        hasher.finish()
    }

    /// Why a state with no enabled step is wrong, if it is (only a finished run may stop).
    fn stuck_reason(&self) -> Option<String> {
        (self.operator.phase != Phase::Done).then(|| {
            format!(
                "no event can leave this state (operator at {:?}): {}",
                self.operator.phase,
                describe(&self.cluster)
            )
        })
    }
}

/// A violation and how to get there again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    /// What went wrong.
    pub message: String,
    /// The steps from deployment to the violation, the last one included.
    pub trace: Vec<Step>,
    /// The seed of the random walk that found it, if any.
    pub seed: Option<u64>,
}

/// What a run of the explorer covered and found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// `exhaustive` or `random`.
    pub mode: &'static str,
    /// The configuration, as text.
    pub config: String,
    /// Distinct states reached.
    pub states: u64,
    /// Steps taken (edges followed, including into already known states).
    pub transitions: u64,
    /// Complete step sequences covered: for the exhaustive search, the number of paths in the
    /// searched state graph; for random walks, the number of walks.
    pub interleavings: u128,
    /// Fault steps taken.
    pub faults_injected: u64,
    /// Invariant violations found.
    pub violations: u64,
    /// End states reached (counted once each) in which, in v0 mode, a second refresh came after
    /// the upgrade had ended and waits for `pre-upgrade-check` (v0's documented behaviour).
    pub unprepared_refresh_ends: u64,
    /// The first violation of each kind (up to a few), with its trace.
    pub examples: Vec<Found>,
    /// The search stopped at its state limit before covering everything.
    pub truncated: bool,
}

/// How many violations keep their trace in a report.
const EXAMPLES_KEPT: usize = 12;

impl Report {
    /// The one closing line with the figures.
    pub fn closing_line(&self) -> String {
        format!(
            "explore {} [{}]: states explored {}, transitions {}, interleavings {}, faults injected {}, invariant violations {} (end states left to an unprepared refresh, v0: {}){}",
            self.mode,
            self.config,
            self.states,
            self.transitions,
            if self.interleavings == u128::MAX {
                "over 3.4e38 (the count saturated)".to_owned()
            } else {
                self.interleavings.to_string()
            },
            self.faults_injected,
            self.violations,
            self.unprepared_refresh_ends,
            if self.truncated { " (truncated at the state limit)" } else { "" }
        )
    }

    /// Adds `other`'s figures (and examples, up to the limit) to this report.
    pub fn absorb(&mut self, other: Report) {
        self.states += other.states;
        self.transitions += other.transitions;
        self.interleavings = self.interleavings.saturating_add(other.interleavings);
        self.faults_injected += other.faults_injected;
        self.unprepared_refresh_ends += other.unprepared_refresh_ends;
        self.truncated |= other.truncated;
        for found in other.examples {
            if self.examples.len() < EXAMPLES_KEPT {
                self.examples.push(found);
            }
        }
        self.violations += other.violations;
    }

    fn record(&mut self, message: String, trace: Vec<Step>, seed: Option<u64>) {
        self.violations += 1;
        // One example per kind of violation: the message without its numbers and details.
        let kind = |text: &str| -> String {
            text.chars()
                .filter(|c| !c.is_ascii_digit())
                .take(48)
                .collect()
        };
        let new_kind = self
            .examples
            .iter()
            .all(|found| kind(&found.message) != kind(&message));
        if new_kind && self.examples.len() < EXAMPLES_KEPT {
            self.examples.push(Found {
                message,
                trace,
                seed,
            });
        }
    }
}

/// One depth-first search frame: a state and the steps still to try from it.
struct Frame {
    world: World,
    fingerprint: u64,
    steps: Vec<Step>,
    next: usize,
    /// Paths to the end found so far from this state.
    paths: u128,
    /// The step that led here.
    via: Option<Step>,
}

/// Searches every interleaving of `config` depth-first, merging states already searched.
///
/// Stops expanding new states after `max_states` (the report says so). Revisiting a state on
/// the current path is a livelock (a cycle of hooks with no way out is possible), as is a run
/// longer than `config.max_steps`.
pub fn exhaustive(config: &Config, max_states: u64) -> Report {
    exhaustive_from(config, World::new(config), max_states)
}

/// As [`exhaustive`], from `root` instead of a fresh deployment (e.g. a state a regression
/// trace reaches); traces in the report start at `root`.
pub fn exhaustive_from(config: &Config, root: World, max_states: u64) -> Report {
    let mut report = Report {
        mode: "exhaustive",
        config: config.to_string(),
        ..Report::default()
    };
    // Paths to the end from each fully searched state.
    let mut searched: HashMap<u64, u128> = HashMap::new();
    let mut on_path: HashSet<u64> = HashSet::new();
    let root_fingerprint = root.fingerprint();
    let root_steps = root.enabled(config);
    on_path.insert(root_fingerprint);
    report.states = 1;
    let mut stack = vec![Frame {
        world: root,
        fingerprint: root_fingerprint,
        steps: root_steps,
        next: 0,
        paths: 0,
        via: None,
    }];
    while let Some(top) = stack.last_mut() {
        if top.next >= top.steps.len() {
            let Some(done) = stack.pop() else { break };
            let paths = done.paths.max(1);
            searched.insert(done.fingerprint, paths);
            on_path.remove(&done.fingerprint);
            match stack.last_mut() {
                Some(parent) => parent.paths = parent.paths.saturating_add(paths),
                None => report.interleavings = paths,
            }
            continue;
        }
        let step = top.steps[top.next];
        top.next += 1;
        let mut child = top.world.clone();
        let problems = child.apply(step, config);
        report.transitions += 1;
        if step.is_fault() {
            report.faults_injected += 1;
        }
        let trace_to = |stack: &[Frame]| -> Vec<Step> {
            stack
                .iter()
                .filter_map(|frame| frame.via)
                .chain(std::iter::once(step))
                .collect()
        };
        if !problems.is_empty() {
            let trace = trace_to(&stack);
            for message in problems {
                report.record(message, trace.clone(), None);
            }
            add_paths(&mut stack, 1);
            continue;
        }
        let fingerprint = child.fingerprint();
        if let Some(&paths) = searched.get(&fingerprint) {
            add_paths(&mut stack, paths);
            continue;
        }
        if on_path.contains(&fingerprint) {
            let trace = trace_to(&stack);
            report.record(
                format!(
                    "livelock: the run came back to an earlier state: {}",
                    describe(&child.cluster)
                ),
                trace,
                None,
            );
            add_paths(&mut stack, 1);
            continue;
        }
        if child.steps > config.max_steps {
            let trace = trace_to(&stack);
            report.record(
                format!(
                    "livelock: no end after {} steps: {}",
                    config.max_steps,
                    describe(&child.cluster)
                ),
                trace,
                None,
            );
            add_paths(&mut stack, 1);
            continue;
        }
        let steps = child.enabled(config);
        report.states += 1;
        if steps.is_empty() {
            if let Some(reason) = child.stuck_reason() {
                let trace = trace_to(&stack);
                report.record(reason, trace, None);
            }
            if child.operator.ending == Some(Ending::UnpreparedRefresh) {
                report.unprepared_refresh_ends += 1;
            }
            searched.insert(fingerprint, 1);
            add_paths(&mut stack, 1);
            continue;
        }
        if report.states >= max_states {
            report.truncated = true;
            add_paths(&mut stack, 1);
            continue;
        }
        on_path.insert(fingerprint);
        stack.push(Frame {
            world: child,
            fingerprint,
            steps,
            next: 0,
            paths: 0,
            via: Some(step),
        });
    }
    report
}

fn add_paths(stack: &mut [Frame], paths: u128) {
    if let Some(top) = stack.last_mut() {
        top.paths = top.paths.saturating_add(paths);
    }
}

/// One random walk: its steps and what it found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Walk {
    /// The steps taken.
    pub trace: Vec<Step>,
    /// The fingerprint of every state passed through.
    pub fingerprints: Vec<u64>,
    /// Faults injected.
    pub faults: u32,
    /// Violations, each with the length of the trace prefix that reached it.
    pub violations: Vec<(String, usize)>,
    /// The configuration the seed chose (with `vary`, leader and script come from the seed).
    pub config: Option<Config>,
    /// How the run ended, if it did.
    pub ending: Option<Ending>,
}

/// The configuration a seed runs with: with `vary`, the leader and the failing upgrade and
/// rollback are drawn from the seed.
pub fn seeded_config(config: &Config, rng: &mut SplitMix64) -> Config {
    let mut chosen = *config;
    if config.vary {
        let units = config.units.max(1) as usize;
        chosen.leader = rng.below(units) as u32;
        let pick = |rng: &mut SplitMix64| -> Option<u32> {
            // Fail one of the unit upgrades, or none, with equal chance.
            let choice = rng.below(units + 1);
            (choice < units).then_some(choice as u32)
        };
        chosen.script.fail_upgrade = pick(rng);
        chosen.script.fail_rollback = pick(rng);
        if config.operator_moves {
            const DEPLOYED: [Option<&str>; 4] = [None, Some("none"), Some("first"), Some("all")];
            chosen.pause = DEPLOYED[rng.below(DEPLOYED.len())];
        }
    }
    chosen
}

/// Walks one seeded random path of `config` to its end.
pub fn walk(config: &Config, seed: u64) -> Walk {
    let mut rng = SplitMix64::new(seed);
    let chosen = seeded_config(config, &mut rng);
    let mut world = World::new(&chosen);
    let mut result = Walk {
        config: Some(chosen),
        ..Walk::default()
    };
    result.fingerprints.push(world.fingerprint());
    loop {
        let steps = world.enabled(&chosen);
        if steps.is_empty() {
            if let Some(reason) = world.stuck_reason() {
                result.violations.push((reason, result.trace.len()));
            }
            result.ending = world.operator.ending;
            break;
        }
        // Faults and operator moves are drawn now and then; the rest at every step.
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
            result.violations.push((
                format!(
                    "livelock: no end after {} steps: {}",
                    chosen.max_steps,
                    describe(&world.cluster)
                ),
                result.trace.len(),
            ));
            break;
        }
    }
    result
}

/// One random walk per seed in `seeds`.
pub fn random_walks(config: &Config, seeds: std::ops::Range<u64>) -> Report {
    let mut report = Report {
        mode: "random",
        config: config.to_string(),
        ..Report::default()
    };
    let mut seen: HashSet<u64> = HashSet::new();
    for seed in seeds {
        let walk = walk(config, seed);
        report.interleavings += 1;
        report.transitions += walk.trace.len() as u64;
        report.faults_injected += u64::from(walk.faults);
        seen.extend(walk.fingerprints.iter().copied());
        for (message, at) in walk.violations {
            report.record(message, walk.trace[..at].to_vec(), Some(seed));
        }
        if walk.ending == Some(Ending::UnpreparedRefresh) {
            report.unprepared_refresh_ends += 1;
        }
    }
    report.states = seen.len() as u64;
    report
}

/// A replayed run, narrated.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Replay {
    /// One line per step: the step, what it was, and the cluster after it.
    pub narration: Vec<String>,
    /// Violations, each with the index of the step that caused it.
    pub violations: Vec<(String, usize)>,
}

/// Replays `trace` on `config`, checking every step is enabled when taken.
pub fn replay(config: &Config, trace: &[Step]) -> Result<Replay, String> {
    replay_to(config, trace).map(|(_, replay)| replay)
}

/// Replays `trace` on `config` as far as it still goes: a change to the core may make a step
/// of an old trace impossible (other hooks get queued). Returns the world reached and how many
/// steps were taken.
pub fn replay_prefix(config: &Config, trace: &[Step]) -> (World, Replay, usize) {
    let mut taken = 0;
    while taken < trace.len() && replay_to(config, &trace[..=taken]).is_ok() {
        taken += 1;
    }
    match replay_to(config, &trace[..taken]) {
        Ok((world, replay)) => (world, replay, taken),
        Err(_) => (World::new(config), Replay::default(), 0),
    }
}

/// Replays `trace` on `config` and returns the world it reaches, with the narration.
pub fn replay_to(config: &Config, trace: &[Step]) -> Result<(World, Replay), String> {
    let mut world = World::new(config);
    world.cluster.keep_logs = true;
    let mut replay = Replay::default();
    for (index, &step) in trace.iter().enumerate() {
        let enabled = world.enabled(config);
        if !enabled.contains(&step) {
            return Err(format!(
                "step {index} ({step}) is not possible here; possible: {}",
                format_trace(&enabled)
            ));
        }
        let what = narrate(&world, step);
        let logged_before: Vec<(u32, usize)> = world
            .cluster
            .units
            .iter()
            .map(|(&unit, sim)| (unit, sim.log.len()))
            .collect();
        let problems = world.apply(step, config);
        let mut lines = format!(
            "{index:>4} {step:<10} {what}\n       -> {}",
            describe(&world.cluster)
        );
        for (unit, before) in logged_before {
            if let Some(sim) = world.cluster.units.get(&unit) {
                for (level, message) in sim.log.iter().skip(before) {
                    lines.push_str(&format!(
                        "\n          mysql/{unit} {}: {}",
                        level.as_str(),
                        message.lines().next().unwrap_or_default()
                    ));
                }
            }
        }
        replay.narration.push(lines);
        replay
            .violations
            .extend(problems.into_iter().map(|message| (message, index)));
    }
    Ok((world, replay))
}

/// What `step` means in `world`, before it is taken.
fn narrate(world: &World, step: Step) -> String {
    let cluster = &world.cluster;
    let hook = |unit: u32| {
        cluster
            .next_hook(unit)
            .map_or_else(|| "?".to_owned(), |hook| hook.name())
    };
    match step {
        Step::Begin(unit) => format!("mysql/{unit} starts {}", hook(unit)),
        Step::Commit(unit) => format!("mysql/{unit} commits its hook"),
        Step::HookError(unit) => format!("FAULT mysql/{unit}'s hook exits non-zero"),
        Step::Kill(unit) => format!("FAULT mysql/{unit}'s agent is killed mid-hook"),
        Step::MoveLeader(unit) => format!("FAULT leadership moves to mysql/{unit}"),
        Step::Remove(unit) => format!("FAULT mysql/{unit} is removed"),
        Step::Refresh(revision) => format!("FAULT second juju refresh --revision={revision}"),
        Step::ErrorAtRefresh(unit) => {
            format!("FAULT mysql/{unit}'s update-status fails: in error when the refresh lands")
        }
        Step::SwapCharm(unit) => {
            format!("Juju swaps mysql/{unit}'s charm at its retry, without upgrade-charm")
        }
        Step::KillBeforeCacheWrite(unit) => format!(
            "FAULT mysql/{unit}'s agent is killed mid-hook, before its charm wrote its peer cache"
        ),
        Step::LeaderAwayAndBack(unit) => format!(
            "FAULT leadership moves to mysql/{unit} and back to mysql/{}",
            cluster.leader
        ),
        Step::Rejoin(unit) => {
            format!("FAULT mysql/{unit} is removed and a new mysql/{unit} joins")
        }
        Step::SetPause(setting) => {
            format!("operator move: juju config mysql pause-after-unit-refresh={setting}")
        }
        Step::Resume(unit) => format!("operator move: juju run mysql/{unit} resume-upgrade"),
        Step::Force(unit, skips) => {
            format!(
                "operator move: juju run mysql/{unit} force-upgrade ({skips:?})",
                skips = force_event(skips)
            )
        }
        Step::Operator(operator_step) => format!("operator: {}", operator_step.describe()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traces_round_trip_through_text() {
        let trace = vec![
            Step::Begin(0),
            Step::Commit(0),
            Step::HookError(1),
            Step::Kill(2),
            Step::KillBeforeCacheWrite(1),
            Step::LeaderAwayAndBack(2),
            Step::Rejoin(0),
            Step::MoveLeader(1),
            Step::Remove(3),
            Step::Refresh(44),
            Step::ErrorAtRefresh(1),
            Step::SwapCharm(2),
            Step::Operator(OperatorStep::Prepare),
            Step::Operator(OperatorStep::Refresh),
            Step::Operator(OperatorStep::Recover),
            Step::Operator(OperatorStep::RollBack),
            Step::Operator(OperatorStep::PrepareRefreshed),
            Step::Operator(OperatorStep::Resume(2)),
            Step::Operator(OperatorStep::Force(1)),
            Step::Operator(OperatorStep::Finish),
            Step::SetPause("first"),
            Step::Resume(1),
            Step::Force(0, 5),
        ];
        let text = format_trace(&trace);
        assert_eq!(parse_trace(&text), Ok(trace));
        assert!(parse_trace("b").is_err());
        assert!(parse_trace("z1").is_err());
        assert!(parse_trace("O:dance").is_err());
        assert!(parse_trace("psometimes").is_err());
        assert!(parse_trace("f1.9").is_err());
    }

    #[test]
    fn a_seed_names_one_walk_and_replay_refuses_impossible_steps() {
        let mut config = Config::new(2);
        config.vary = true;
        let first = walk(&config, 42);
        assert_eq!(walk(&config, 42), first);
        assert!(!first.trace.is_empty());
        let chosen = first.config.expect("walk records its config");
        let replayed = replay(&chosen, &first.trace).expect("a walk replays");
        assert_eq!(replayed.narration.len(), first.trace.len());
        assert!(
            replay(&chosen, &[Step::Commit(0)]).is_err(),
            "nothing runs yet"
        );
    }

    #[test]
    fn faults_parse_from_a_list() {
        assert_eq!(Faults::parse("all"), Ok(Faults::ALL));
        assert_eq!(Faults::parse("none"), Ok(Faults::NONE));
        let some = Faults::parse("kill, leader").expect("valid");
        assert!(some.kill && some.leader_move && !some.hook_error);
        assert_eq!(some.to_string(), "kill,leader");
        assert!(Faults::parse("meteor").is_err());
    }
}
