//! The how-to's rollback with a real database under it, on two real server versions:
//! three units of the charm, each running its own `mariadbd` (`JUJU_SIM_WORKLOAD=mariadb`),
//! deployed on the older of the two MariaDB versions `scripts/install-mariadb` unpacked,
//! refreshed to a revision of the newer one whose server really refuses to start, rolled
//! back as the how-to says, then upgraded again (fault gone) so that every unit moves to
//! the newer binary; a client keeps writing to the primary and reading from every unit
//! all along.
//!
//! What must hold: after every step and at the end, every row the client was told was
//! written is on every server (COUNT = MAX = the last acknowledged id); at most one server
//! was down at any moment; no read on a server that was up failed. The figures are
//! printed (rows acknowledged, found per unit, max units down, longest write gap,
//! catch-up after each step); when the sources served only one version, the figures line
//! says so first, loudly.
//!
//! Needs MariaDB (`scripts/install-mariadb`): without it the test prints why and returns,
//! except under `CI=true`, where it fails.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use e2e::{binaries, Sim, APP, OLD_REVISION, READY_TO_ROLLBACK, UPGRADE_FAILED};
use juju_sim::engine::Source;
use mysql_charm::versions::VersionOverrides;
use mysql_charm::workload::Workload;
use mysql_test_workloads::mariadb::{self, MariaDbBinaries, SqlClient, REFUSED_OPTION};
use mysql_test_workloads::{FaultKind, FaultRule, MariaDbWorkload};

/// The scheduler seed (any seed must pass; one is enough for a demo that takes minutes).
const SEED: u64 = 9;
/// Rows written before the refresh.
const ROWS_BEFORE: u64 = 200;
/// The client stops by itself after this long or this many rounds, whichever is first.
const CLIENT_MAX_RUNTIME: Duration = Duration::from_secs(20 * 60);
const CLIENT_MAX_ROUNDS: u64 = 100_000;
/// Pause between two client rounds and between two monitor rounds.
const CLIENT_PAUSE: Duration = Duration::from_millis(40);
const MONITOR_PAUSE: Duration = Duration::from_millis(20);

/// Skips the test (or fails it under `CI=true`) with `message`.
fn unavailable(message: &str) -> Option<ServerVersions> {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{message} (required when CI=true)");
    }
    eprintln!("SKIPPED mariadb_rollback: {message}");
    None
}

/// What a lane runs: the two versions, from which servers, replicating how.
struct ServerVersions {
    /// The servers directory (`<dir>/<version>/usr/sbin/mariadbd`), as
    /// `scripts/install-mariadb` unpacked them; `None`: the system's server runs both
    /// revisions.
    dir: Option<PathBuf>,
    /// The system's `mariadbd`.
    system: PathBuf,
    older: String,
    newer: String,
    /// The sources served one version only: both revisions are that version.
    same_version: bool,
    /// The servers form a Galera cluster (else GTID replicas of the primary).
    galera: bool,
}

impl ServerVersions {
    fn binary(&self, version: &str) -> PathBuf {
        match &self.dir {
            Some(dir) => dir.join(version).join("usr/sbin/mariadbd"),
            None => self.system.clone(),
        }
    }
}

/// The unpacked servers, or why the test cannot run.
fn server_versions() -> Option<ServerVersions> {
    let Some(system) = MariaDbBinaries::locate() else {
        return unavailable(
            "mariadbd, mariadb or mariadb-install-db not found: run `bash scripts/install-mariadb`",
        );
    };
    let dir = std::env::var_os(mariadb::SERVERS_ENV_VAR)
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../.mariadb/servers"));
    let listed = std::fs::read_to_string(dir.join("versions")).unwrap_or_default();
    let versions: Vec<String> = listed
        .lines()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
        .collect();
    match versions.as_slice() {
        [older, newer] => Some(ServerVersions {
            dir: Some(dir),
            system: system.server,
            older: older.clone(),
            newer: newer.clone(),
            same_version: false,
            galera: false,
        }),
        [only] => Some(ServerVersions {
            dir: Some(dir),
            system: system.server,
            older: only.clone(),
            newer: only.clone(),
            same_version: true,
            galera: false,
        }),
        _ => unavailable(&format!(
            "no unpacked MariaDB servers listed in {}: run `bash scripts/install-mariadb`",
            dir.join("versions").display()
        )),
    }
}

/// Stops every server of the model when the test ends, passed or not.
struct StopServers(PathBuf);

impl Drop for StopServers {
    fn drop(&mut self) {
        match mariadb::stop_all_servers(&self.0) {
            Ok(units) if !units.is_empty() => eprintln!("stopped the servers of {units:?}"),
            Ok(_) => {}
            Err(e) => eprintln!("could not stop the servers: {e}"),
        }
    }
}

/// The application user's client on each unit's server, in unit order.
fn clients(model_dir: &Path) -> Vec<(String, SqlClient)> {
    let binaries = MariaDbBinaries::locate().expect("located before");
    mariadb::endpoints(model_dir)
        .expect("address book")
        .into_iter()
        .map(|e| {
            let client = SqlClient::new(&binaries.client, &e.app_client_options);
            (e.unit, client)
        })
        .collect()
}

/// One read by the client.
#[derive(Debug, Clone)]
struct Read {
    unit: usize,
    started: Instant,
    ended: Instant,
    error: Option<String>,
}

/// What the client saw.
#[derive(Debug, Default)]
struct ClientLog {
    /// Write attempts that failed (retried with the same id).
    failed_writes: u64,
    reads: Vec<Read>,
}

/// Ids the primary acknowledged, in order, with when: shared with the test, which reads
/// the last one at every step.
type Acks = Arc<Mutex<Vec<(u64, Instant)>>>;

fn last_ack(acks: &Acks) -> u64 {
    acks.lock()
        .unwrap_or_else(|p| p.into_inner())
        .last()
        .map_or(0, |(id, _)| *id)
}

/// One monitor round: which servers answered, and when each was asked (start and end of
/// its `SELECT 1`: a round asks the servers one after the other).
#[derive(Debug, Clone)]
struct Sample {
    answered: Vec<bool>,
    asked: Vec<(Instant, Instant)>,
}

/// Writes one row per round to the recorded primary (ids in sequence; a failed write is
/// retried with the same id) and reads from every unit, until told to stop or its bounds
/// run out. Every acknowledged id goes to `acks`.
fn spawn_client(
    model_dir: PathBuf,
    first_id: u64,
    acks: Acks,
    stop: Arc<AtomicBool>,
) -> JoinHandle<ClientLog> {
    std::thread::spawn(move || {
        let units = clients(&model_dir);
        let mut log = ClientLog::default();
        let mut next_id = first_id;
        let deadline = Instant::now() + CLIENT_MAX_RUNTIME;
        for _ in 0..CLIENT_MAX_ROUNDS {
            if stop.load(Ordering::SeqCst) || Instant::now() >= deadline {
                break;
            }
            let primary = mariadb::recorded_primary(&model_dir).ok().flatten();
            let writer = units
                .iter()
                .find(|(unit, _)| Some(unit) == primary.as_ref());
            if let Some((_, client)) = writer {
                let insert =
                    format!("INSERT INTO demo.items (id, phase) VALUES ({next_id}, 'during')");
                let acknowledged = match client.execute(&insert) {
                    Ok(()) => true,
                    // An earlier attempt committed although its answer was lost.
                    Err(e) => e.stderr.contains("Duplicate entry"),
                };
                if acknowledged {
                    acks.lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push((next_id, Instant::now()));
                    next_id += 1;
                } else {
                    log.failed_writes += 1;
                }
            }
            for (index, (_, client)) in units.iter().enumerate() {
                let started = Instant::now();
                let result = client.query("SELECT COUNT(*) AS n FROM demo.items");
                log.reads.push(Read {
                    unit: index,
                    started,
                    ended: Instant::now(),
                    error: result.err().map(|e| e.to_string()),
                });
            }
            std::thread::sleep(CLIENT_PAUSE);
        }
        log
    })
}

/// Asks every server `SELECT 1` in rounds, until told to stop (bounded like the client).
fn spawn_monitor(model_dir: PathBuf, stop: Arc<AtomicBool>) -> JoinHandle<Vec<Sample>> {
    std::thread::spawn(move || {
        let units = clients(&model_dir);
        let mut samples = Vec::new();
        let deadline = Instant::now() + CLIENT_MAX_RUNTIME;
        for _ in 0..CLIENT_MAX_ROUNDS {
            if stop.load(Ordering::SeqCst) || Instant::now() >= deadline {
                break;
            }
            let mut answered = Vec::with_capacity(units.len());
            let mut asked = Vec::with_capacity(units.len());
            for (_, client) in &units {
                let started = Instant::now();
                answered.push(client.execute("SELECT 1").is_ok());
                asked.push((started, Instant::now()));
            }
            samples.push(Sample { answered, asked });
            std::thread::sleep(MONITOR_PAUSE);
        }
        samples
    })
}

/// Whether a failed read hit a server that was down: the monitor did not see that
/// server answer both just before the read (asked and answered before it started) and just
/// after it (asked after it ended) with no miss in between.
fn read_hit_a_down_server(read: &Read, samples: &[Sample]) -> bool {
    let unit = read.unit;
    let before = samples
        .iter()
        .rposition(|s| s.asked[unit].1 <= read.started);
    let after = samples.iter().position(|s| s.asked[unit].0 >= read.ended);
    match (before, after) {
        (Some(before), Some(after)) => samples[before..=after]
            .iter()
            .any(|s| !s.answered[read.unit]),
        // Outside the monitored span: nothing says the server was up.
        _ => true,
    }
}

/// The application's status and message, as `juju status` shows them.
fn app_status(sim: &Sim) -> (String, String) {
    let status = sim.status();
    let app = status.applications.get(APP).expect("the application");
    (
        app.application_status.current.clone(),
        app.application_status.message.clone(),
    )
}

/// `COUNT(*)` and `MAX(id)` of the rows with ids up to `upto` on one server.
fn count_and_max(client: &SqlClient, upto: u64) -> Option<(u64, u64)> {
    let result = client
        .query(&format!(
            "SELECT COUNT(*) AS n, COALESCE(MAX(id), 0) AS m FROM demo.items WHERE id <= {upto}"
        ))
        .ok()?;
    Some((
        result.first("n")?.parse().ok()?,
        result.first("m")?.parse().ok()?,
    ))
}

/// What one step's check saw: the last acknowledged id then, and how long until every
/// server had every row up to it.
struct Checkpoint {
    step: String,
    acknowledged: u64,
    catch_up: Duration,
    found: Vec<(String, u64)>,
}

/// After a step: waits (bounded) until every server but the one `down` holds every
/// acknowledged row so far (COUNT = MAX = the last acknowledged id), and fails if one does
/// not.
fn check_every_row_everywhere(
    step: &str,
    units: &[(String, SqlClient)],
    down: Option<&str>,
    acks: &Acks,
) -> Checkpoint {
    let last = last_ack(acks);
    let started = Instant::now();
    let deadline = started + Duration::from_secs(120);
    let mut found = Vec::new();
    for (unit, client) in units {
        if Some(unit.as_str()) == down {
            continue;
        }
        loop {
            let seen = count_and_max(client, last);
            if seen == Some((last, last)) {
                found.push((unit.clone(), last));
                break;
            }
            assert!(
                Instant::now() < deadline,
                "after {step}: {unit} has (COUNT, MAX) {seen:?} of the rows up to the last \
                 acknowledged id {last}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    Checkpoint {
        step: step.to_owned(),
        acknowledged: last,
        catch_up: started.elapsed(),
        found,
    }
}

/// The executable of `unit`'s running server, from its pid file.
fn running_binary(sim: &Sim, model_dir: &Path, unit: &str) -> PathBuf {
    let machine = sim.engine.machine_dir(unit).expect("machine");
    let workload = MariaDbWorkload::new(unit, machine, model_dir);
    let endpoint = workload.endpoint().expect("endpoint");
    let pid = std::fs::read_to_string(&endpoint.pid_file).expect("pid file");
    std::fs::read_link(format!("/proc/{}/exe", pid.trim())).expect("the server's executable")
}

/// Every unit active, its server running `version`'s unpacked binary.
fn every_unit_runs(sim: &Sim, model_dir: &Path, versions: &ServerVersions, version: &str) {
    let units = clients(model_dir);
    let binary = versions.binary(version);
    for (unit, client) in &units {
        assert_eq!(
            sim.unit_status(unit).0,
            "active",
            "{unit}: {:?}\n{}",
            sim.unit_status(unit),
            sim.debug_log()
        );
        let reported = client.query("SELECT @@version AS v").expect("version");
        let reported = reported.first("v").unwrap_or_default().to_owned();
        let expected = if versions.dir.is_some() {
            format!("{version}-MariaDB")
        } else {
            String::new()
        };
        assert!(
            reported.starts_with(&expected) && reported.contains(&format!("-juju-sim-{version}-")),
            "{unit} reports {reported}"
        );
        let running = running_binary(sim, model_dir, unit);
        assert_eq!(
            running.canonicalize().ok(),
            binary.canonicalize().ok(),
            "{unit} runs {}",
            running.display()
        );
    }
}

/// Runs one operation at a time until `done` (checked before each), bounded.
fn step_until(sim: &mut Sim, what: &str, mut done: impl FnMut(&mut Sim) -> bool) {
    for _ in 0..2_000 {
        if done(sim) {
            return;
        }
        assert!(sim.step(), "the model settled before {what}");
    }
    panic!("no {what} within 2000 operations");
}

/// How many windows of `unit` completed since the `since`-th window.
fn completed_windows(sim: &Sim, since: usize, unit: &str) -> usize {
    sim.windows()
        .iter()
        .skip(since)
        .filter(|w| w.unit == unit && w.completed)
        .count()
}

/// How many of `unit`'s hooks were killed midway so far.
fn killed_hooks(sim: &Sim, unit: &str) -> usize {
    sim.engine
        .history()
        .expect("history")
        .iter()
        .filter(|r| r.unit == unit && r.outcome == juju_sim::model::Outcome::Killed)
        .count()
}

/// `kill -9` of `unit`'s server (no shutdown, no hand-over of the primary role).
fn kill_server(sim: &Sim, model_dir: &Path, unit: &str) {
    let machine = sim.engine.machine_dir(unit).expect("machine");
    let workload = MariaDbWorkload::new(unit, machine, model_dir);
    let endpoint = workload.endpoint().expect("endpoint");
    let pid = std::fs::read_to_string(&endpoint.pid_file).expect("pid file");
    let status = std::process::Command::new("kill")
        .args(["-KILL", pid.trim()])
        .status()
        .expect("kill");
    assert!(status.success(), "kill -9 {pid}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while workload.is_running().expect("process check") {
        assert!(
            Instant::now() < deadline,
            "{unit}'s server survived SIGKILL"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The longest time between two acknowledged writes (and from the first step's start).
fn longest_write_gap(acks: &[(u64, Instant)], since: Instant) -> Duration {
    let mut previous = since;
    let mut longest = Duration::ZERO;
    for (_, at) in acks {
        longest = longest.max(at.saturating_duration_since(previous));
        previous = *at;
    }
    longest
}

#[test]
fn a_refused_upgrade_rolls_back_one_unit_at_a_time_without_losing_a_row_or_a_read() {
    let Some(versions) = server_versions() else {
        return;
    };
    run_lane(&versions);
}

/// The Galera lane: the same steps on the system's server (one binary: this lane is
/// about membership, not versions), its three nodes a Galera cluster on loopback ports.
#[test]
fn a_refused_upgrade_rolls_back_one_unit_at_a_time_on_galera_each_node_back_when_synced() {
    let Some(lane) = server_versions() else {
        return;
    };
    let galera = Path::new(mariadb::GALERA_PROVIDER);
    if !galera.is_file() || MariaDbBinaries::locate().is_none() {
        unavailable("no Galera provider or mariabackup: run `bash scripts/install-mariadb`");
        return;
    }
    run_lane(&ServerVersions {
        dir: None,
        system: lane.system,
        older: e2e::OLD_VERSION.to_owned(),
        newer: e2e::NEW_VERSION.to_owned(),
        same_version: false,
        galera: true,
    });
}

fn run_lane(versions: &ServerVersions) {
    let (older, newer) = (versions.older.clone(), versions.newer.clone());
    let lane_name = if versions.galera {
        "mariadb-galera"
    } else {
        "mariadb-gtid"
    };
    let mut sim = Sim::new(SEED, binaries!());
    sim.engine
        .set_model_env(mariadb::WORKLOAD_ENV_VAR, Some(mariadb::WORKLOAD_ENV_VALUE))
        .expect("model env");
    if let Some(dir) = &versions.dir {
        sim.engine
            .set_model_env(
                mariadb::SERVERS_ENV_VAR,
                Some(dir.to_str().expect("a UTF-8 servers directory")),
            )
            .expect("model env");
    }
    if versions.galera {
        sim.engine
            .set_model_env(mariadb::REPLICATION_ENV_VAR, Some(mariadb::GALERA))
            .expect("model env");
    }
    let model_dir = sim.model_dir().to_owned();
    let _stop_servers = StopServers(model_dir.clone());

    // Revision 182 runs the older server, the next revision the newer one.
    let range = {
        let mut parts = older.split('.');
        format!(
            "~{}.{}.0",
            parts.next().unwrap_or("0"),
            parts.next().unwrap_or("0")
        )
    };
    let old_charm = sim.charm(
        &format!("{lane_name}-182"),
        VersionOverrides {
            workload_version: Some(older.clone()),
            snap_revision: Some("1018".into()),
            upgrade_supported: Some(range.clone()),
            ..VersionOverrides::default()
        },
    );
    let new_charm = sim.charm(
        &format!("{lane_name}-new"),
        VersionOverrides {
            workload_version: Some(newer.clone()),
            snap_revision: Some("1019".into()),
            upgrade_supported: Some(range),
            ..VersionOverrides::default()
        },
    );

    // Deploy three units of revision 182; each runs a real server of the older version.
    sim.engine
        .deploy(&old_charm, APP, 3, Some(OLD_REVISION))
        .expect("deploy");
    sim.settle();
    every_unit_runs(&sim, &model_dir, versions, &older);
    let units = clients(&model_dir);
    assert_eq!(
        units.iter().map(|(u, _)| u.as_str()).collect::<Vec<_>>(),
        vec!["mysql/0", "mysql/1", "mysql/2"]
    );

    // Rows before the upgrade, on the primary.
    let primary = mariadb::recorded_primary(&model_dir)
        .expect("primary file")
        .expect("a primary");
    let writer = &units
        .iter()
        .find(|(u, _)| *u == primary)
        .expect("primary's client")
        .1;
    writer
        .execute(
            "CREATE DATABASE demo; \
             CREATE TABLE demo.items (id BIGINT PRIMARY KEY, phase VARCHAR(16)) ENGINE=InnoDB;",
        )
        .expect("schema");
    let values: Vec<String> = (1..=ROWS_BEFORE)
        .map(|id| format!("({id}, 'before')"))
        .collect();
    writer
        .execute(&format!(
            "INSERT INTO demo.items (id, phase) VALUES {};",
            values.join(", ")
        ))
        .expect("rows before");
    let acks: Acks = Arc::new(Mutex::new(
        (1..=ROWS_BEFORE).map(|id| (id, Instant::now())).collect(),
    ));
    let mut checkpoints = vec![check_every_row_everywhere("deploy", &units, None, &acks)];

    // The client and the monitor run from here to the end.
    let stop = Arc::new(AtomicBool::new(false));
    let monitor = spawn_monitor(model_dir.clone(), Arc::clone(&stop));
    let load_started = Instant::now();
    let client = spawn_client(
        model_dir.clone(),
        ROWS_BEFORE + 1,
        Arc::clone(&acks),
        Arc::clone(&stop),
    );

    // The next revision's server refuses to start: an option mariadbd does not know.
    sim.arm([FaultRule::new(FaultKind::StartFails).for_version(newer.as_str())]);
    let leader = sim.leader();
    sim.pre_upgrade_check();
    sim.refresh(Source::Path(new_charm.clone()));

    // The first unit to upgrade fails, for real, on the newer binary, and the application
    // asks for the rollback.
    let failed: Vec<String> = sim
        .unit_names()
        .into_iter()
        .filter(|u| sim.unit_status(u) == ("blocked".to_owned(), UPGRADE_FAILED.to_owned()))
        .collect();
    assert_eq!(failed.len(), 1, "exactly one unit failed: {failed:?}");
    let first = &failed[0];
    assert_ne!(first, &leader, "the leader upgrades last");
    assert_eq!(sim.upgrade_state(first).as_deref(), Some("failed"));
    let machine = sim.engine.machine_dir(first).expect("machine");
    let workload = MariaDbWorkload::new(first.as_str(), machine, &model_dir);
    let error_log =
        std::fs::read_to_string(workload.error_log()).expect("the failed unit's error log");
    assert!(
        error_log.contains("unknown variable") && error_log.contains(REFUSED_OPTION),
        "mariadbd did not refuse the option:\n{error_log}"
    );
    assert!(
        error_log.contains(&versions.binary(&newer).display().to_string()),
        "the refusing server is not the newer binary:\n{error_log}"
    );
    assert!(!workload.is_running().expect("process check"));
    assert_eq!(
        workload
            .installed_revision()
            .expect("installed")
            .map(|r| r.version),
        Some(newer.clone())
    );
    let others_untouched = sim
        .unit_names()
        .into_iter()
        .filter(|u| u != first)
        .all(|u| sim.upgrade_state(&u).as_deref() != Some("completed"));
    assert!(others_untouched, "no other unit upgraded after the failure");
    let asks = app_status(&sim);
    println!("after the refused upgrade: {first} {UPGRADE_FAILED:?}; application {asks:?}");
    assert_eq!(asks.0, "blocked", "{asks:?}");
    assert!(
        asks.1 == UPGRADE_FAILED || asks.1.contains(&format!("juju refresh {APP}")),
        "the application does not ask for the rollback: {asks:?}"
    );
    let instructions = sim.log_lines(first, &format!("juju refresh {APP}"));
    assert!(
        !instructions.is_empty(),
        "no rollback instruction in {first}'s log:\n{}",
        sim.debug_log()
    );
    checkpoints.push(check_every_row_everywhere(
        "refused upgrade",
        &units,
        Some(first),
        &acks,
    ));

    // The how-to: pre-upgrade-check on the leader enters recovery, then refresh back.
    // With one binary only, the fault would refuse the old revision too: it goes first.
    if versions.same_version {
        sim.arm([]);
    }
    let task = sim.pre_upgrade_check();
    assert_eq!(sim.unit_status(&leader).1, READY_TO_ROLLBACK, "{task:?}");
    let windows_before = sim.windows().len();
    sim.engine
        .refresh(APP, Source::Revision(OLD_REVISION))
        .expect("refresh");
    // Mid-rollback: once the failed unit is back, the next unit's agent is killed in the
    // middle of its hooks (the hook runs again) until that unit is back too; then the
    // primary's server (the leader's, rolled back last) is killed with SIGKILL before its
    // turn. Nothing acknowledged may be lost.
    step_until(&mut sim, "the failed unit rolled back", |sim: &mut Sim| {
        completed_windows(sim, windows_before, first) > 0
    });
    let middle = sim
        .unit_names()
        .into_iter()
        .find(|u| u != first && *u != leader)
        .expect("a third unit");
    let mut round = 0_u32;
    step_until(
        &mut sim,
        "the middle unit back under agent kills",
        |sim: &mut Sim| {
            round += 1;
            let back = completed_windows(sim, windows_before, &middle) > 0;
            // Kills while it works on its server; once it is back, an unreachable count
            // disarms the fault (a run with fewer tool calls uses it up).
            let after = if back { u32::MAX } else { 4 + (7 * round) % 23 };
            sim.engine
                .kill_agent_mid_hook(&middle, after)
                .expect("arm kill");
            back
        },
    );
    // Its rerun hooks may redo the rollback; the leader's turn comes once the middle
    // unit's completion is committed.
    step_until(
        &mut sim,
        "the middle unit's rollback committed",
        |sim: &mut Sim| sim.upgrade_state(&middle).as_deref() == Some("completed"),
    );
    let agent_kills = killed_hooks(&sim, &middle);
    assert!(
        agent_kills > 0,
        "{middle}'s agent was never killed mid-hook"
    );
    kill_server(&sim, &model_dir, &leader);
    sim.settle();

    // Every unit is back, active, on the older server; they went one at a time, the failed
    // unit first.
    every_unit_runs(&sim, &model_dir, versions, &older);
    assert_eq!(
        sim.app_revision_and_version(),
        (OLD_REVISION, older.clone())
    );
    let windows = sim.windows();
    let rollback = sim.assert_one_at_a_time(&windows[windows_before..]);
    println!("rollback order: {}", rollback.join(", "));
    assert_eq!(
        rollback.first(),
        Some(first),
        "the failed unit rolls back first"
    );
    checkpoints.push(check_every_row_everywhere("rollback", &units, None, &acks));

    // The cause fixed, the upgrade goes again: every unit moves to the newer binary.
    sim.arm([]);
    sim.set_pause("none");
    sim.settle();
    sim.pre_upgrade_check();
    let windows_before = sim.windows().len();
    sim.refresh(Source::Path(new_charm));
    every_unit_runs(&sim, &model_dir, versions, &newer);
    let upgrade = sim.assert_one_at_a_time(&sim.windows()[windows_before..]);
    assert_eq!(upgrade.last(), Some(&leader), "the leader upgrades last");
    checkpoints.push(check_every_row_everywhere("upgrade", &units, None, &acks));

    // Stop the client; every acknowledged row is on every server, nothing more.
    stop.store(true, Ordering::SeqCst);
    let log = client.join().expect("client thread");
    let samples = monitor.join().expect("monitor thread");
    let end = check_every_row_everywhere("the end", &units, None, &acks);
    let acked = acks.lock().unwrap_or_else(|p| p.into_inner()).clone();
    for (unit, client) in &units {
        let everything = count_and_max(client, u64::MAX).expect("count");
        assert_eq!(
            everything,
            (end.acknowledged, end.acknowledged),
            "{unit}: rows beyond the last acknowledged id"
        );
    }
    let during = acked.len() as u64 - ROWS_BEFORE;
    let write_gap = longest_write_gap(&acked[ROWS_BEFORE as usize..], load_started);
    checkpoints.push(end);

    let max_down = samples
        .iter()
        .map(|s| s.answered.iter().filter(|up| !**up).count())
        .max()
        .unwrap_or(0);
    let failed_reads: Vec<&Read> = log.reads.iter().filter(|r| r.error.is_some()).collect();
    let on_serving_units: Vec<&&Read> = failed_reads
        .iter()
        .filter(|r| !read_hit_a_down_server(r, &samples))
        .collect();

    // Galera: the restarted nodes came back by incremental state transfers; full ones
    // only for the joiners at deploy and a node whose start had aborted.
    let mut transfers = String::new();
    if versions.galera {
        let mut ists = Vec::new();
        let mut ssts = 0;
        for unit in sim.unit_names() {
            let machine = sim.engine.machine_dir(&unit).expect("machine");
            let log = std::fs::read_to_string(
                MariaDbWorkload::new(unit.as_str(), machine, &model_dir).error_log(),
            )
            .expect("error log");
            let ist = log.matches("IST received").count();
            // A donor runs mariabackup only for a full transfer; an IST is `--bypass`.
            ssts += log
                .lines()
                .filter(|l| l.contains("--role 'donor'") && !l.contains("--bypass"))
                .count();
            assert!(ist > 0, "{unit} never rejoined by IST:\n{log}");
            ists.push(format!("{unit}={ist}"));
        }
        // Two joiners at deploy; a start that aborts (the refused upgrade) leaves no saved
        // position, so that node needs a full transfer again: at most one per unit more.
        assert!(
            (2..=5).contains(&ssts),
            "{ssts} full state transfers: restarted nodes did not rejoin by IST"
        );
        transfers = format!(
            "; IST rejoins {}, full state transfers {ssts}",
            ists.join(" ")
        );
    }
    let lane = if versions.galera {
        format!(
            "Galera, one binary ({}) for both revisions; ",
            versions.system.display()
        )
    } else if versions.same_version {
        format!(
            "WARNING: ONLY ONE MariaDB SERVER VERSION WAS SERVED ({older}): both revisions ran \
             the same binary, no real version changed; "
        )
    } else {
        String::new()
    };
    let last = checkpoints.last().expect("the end");
    let found: Vec<String> = last
        .found
        .iter()
        .map(|(unit, rows)| format!("{unit}={rows}"))
        .collect();
    let catch_up: Vec<String> = checkpoints
        .iter()
        .map(|c| {
            format!(
                "{} {} ms (id {})",
                c.step,
                c.catch_up.as_millis(),
                c.acknowledged
            )
        })
        .collect();
    println!(
        "mariadb rollback figures: {lane}servers {older} -> {newer} -> {older} -> {newer}; \
         rows acknowledged {} ({ROWS_BEFORE} before, {during} during), rows found {}, \
         max units down {max_down}, longest write gap {} ms, catch-up after {}; \
         failed reads on serving units {} (reads {}, {} on the unit that was down), \
         failed write attempts {}, monitor rounds {}; mid-rollback: {middle}'s agent killed in \
         {agent_kills} hooks, {leader}'s server (the primary) killed with SIGKILL{transfers}",
        acked.len(),
        found.join(" "),
        write_gap.as_millis(),
        catch_up.join(", "),
        on_serving_units.len(),
        log.reads.len(),
        failed_reads.len() - on_serving_units.len(),
        log.failed_writes,
        samples.len(),
    );
    assert!(during > 0, "the client wrote nothing during the process");
    assert!(samples.len() > 1, "the monitor saw nothing");
    assert!(max_down <= 1, "{max_down} servers were down at once");
    assert!(
        max_down == 1,
        "the monitor never saw the failed unit down: it did not watch the process"
    );
    assert!(
        on_serving_units.is_empty(),
        "reads failed on servers that were up: {on_serving_units:?}"
    );
}
