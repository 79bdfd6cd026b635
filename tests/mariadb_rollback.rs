//! The how-to's rollback with a real database under it: three units of the
//! charm, each running its own `mariadbd` (`JUJU_SIM_WORKLOAD=mariadb`), refreshed to a
//! revision whose server refuses to start, then rolled back as the how-to says, while a
//! client keeps writing to the primary and reading from every unit.
//!
//! What must hold: every row the client was told was written is on every server at the
//! end; at most one server was down at any moment; no read on a server that was up
//! failed. The figures are printed.
//!
//! Needs MariaDB (`scripts/install-mariadb`): without it the test prints why and returns,
//! except under `CI=true`, where it fails.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use e2e::{
    binaries, Sim, APP, NEW_VERSION, OLD_REVISION, OLD_VERSION, READY_TO_ROLLBACK, UPGRADE_FAILED,
};
use juju_sim::engine::Source;
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

/// Whether the test can run; panics under CI without MariaDB.
fn mariadb_available() -> bool {
    if MariaDbBinaries::locate().is_some() {
        return true;
    }
    let message = "mariadbd, mariadb or mariadb-install-db not found: \
                   run `bash scripts/install-mariadb`";
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{message} (required when CI=true)");
    }
    eprintln!("SKIPPED mariadb_rollback: {message}");
    false
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
    /// Ids the primary acknowledged.
    written: Vec<u64>,
    /// Write attempts that failed (retried with the same id).
    failed_writes: u64,
    reads: Vec<Read>,
}

/// One monitor round: which servers answered, and when each was asked (start and end of
/// its `SELECT 1`: a round asks the servers one after the other).
#[derive(Debug, Clone)]
struct Sample {
    answered: Vec<bool>,
    asked: Vec<(Instant, Instant)>,
}

/// Writes one row per round to the recorded primary and reads from every unit, until
/// told to stop or its bounds run out.
fn spawn_client(model_dir: PathBuf, first_id: u64, stop: Arc<AtomicBool>) -> JoinHandle<ClientLog> {
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
                match client.execute(&insert) {
                    Ok(()) => {
                        log.written.push(next_id);
                        next_id += 1;
                    }
                    // An earlier attempt committed although its answer was lost.
                    Err(e) if e.stderr.contains("Duplicate entry") => {
                        log.written.push(next_id);
                        next_id += 1;
                    }
                    Err(_) => log.failed_writes += 1,
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

/// Every id present on one server.
fn ids_on(client: &SqlClient) -> BTreeSet<u64> {
    client
        .query("SELECT id FROM demo.items")
        .expect("read every id")
        .rows
        .iter()
        .filter_map(|row| row.first().and_then(|id| id.parse().ok()))
        .collect()
}

/// Waits (bounded) until `client`'s server holds every id in `expected`.
fn wait_for_ids(client: &SqlClient, expected: &BTreeSet<u64>) -> BTreeSet<u64> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let found = ids_on(client);
        if expected.is_subset(&found) || Instant::now() >= deadline {
            return found;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_refused_upgrade_rolls_back_one_unit_at_a_time_without_losing_a_row_or_a_read() {
    if !mariadb_available() {
        return;
    }
    let mut sim = Sim::new(SEED, binaries!());
    sim.engine
        .set_model_env(mariadb::WORKLOAD_ENV_VAR, Some(mariadb::WORKLOAD_ENV_VALUE))
        .expect("model env");
    let model_dir = sim.model_dir().to_owned();
    let _stop_servers = StopServers(model_dir.clone());

    // Deploy three units of revision 182; each runs a real server.
    sim.deploy_old(3);
    let units = clients(&model_dir);
    assert_eq!(
        units.iter().map(|(u, _)| u.as_str()).collect::<Vec<_>>(),
        vec!["mysql/0", "mysql/1", "mysql/2"]
    );
    for (unit, client) in &units {
        let version = client
            .query("SELECT @@version AS v")
            .unwrap_or_else(|e| panic!("{unit} does not answer: {e}"));
        let version = version.first("v").unwrap_or_default();
        assert!(
            version.contains(&format!("-juju-sim-{OLD_VERSION}-")),
            "{unit} runs {version}"
        );
    }

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
    let before: BTreeSet<u64> = (1..=ROWS_BEFORE).collect();
    for (_, client) in &units {
        wait_for_ids(client, &before);
    }

    // The client and the monitor run from here to the end of the rollback.
    let stop = Arc::new(AtomicBool::new(false));
    let monitor = spawn_monitor(model_dir.clone(), Arc::clone(&stop));
    let client = spawn_client(model_dir.clone(), ROWS_BEFORE + 1, Arc::clone(&stop));

    // The next revision's server refuses to start: an option mariadbd does not know.
    sim.arm([FaultRule::new(FaultKind::StartFails).for_version(NEW_VERSION)]);
    let leader = sim.leader();
    sim.pre_upgrade_check();
    let new = sim.new_charm();
    sim.refresh(Source::Path(new));

    // The first unit to upgrade fails, for real, and the application asks for rollback.
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
    assert!(!workload.is_running().expect("process check"));
    assert_eq!(
        workload
            .installed_revision()
            .expect("installed")
            .map(|r| r.version),
        Some(NEW_VERSION.to_owned())
    );
    let others_untouched = sim
        .unit_names()
        .into_iter()
        .filter(|u| u != first)
        .all(|u| sim.upgrade_state(&u).as_deref() != Some("completed"));
    assert!(others_untouched, "no other unit upgraded after the failure");
    // The application asks for the rollback: blocked, and the log says how.
    let asks = app_status(&sim);
    println!("after the refused upgrade: {first} {UPGRADE_FAILED:?}; application {asks:?}");
    // v0 shows the failed unit's status; a charm reporting its versions names the
    // rollback command itself.
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

    // The how-to: pre-upgrade-check on the leader enters recovery, then refresh back.
    let task = sim.pre_upgrade_check();
    assert_eq!(sim.unit_status(&leader).1, READY_TO_ROLLBACK, "{task:?}");
    let windows_before = sim.windows().len();
    sim.refresh(Source::Revision(OLD_REVISION));

    // Every unit is back, active, on the old workload; they went one at a time, the
    // failed unit first.
    for unit in sim.unit_names() {
        assert_eq!(
            sim.unit_status(&unit).0,
            "active",
            "{unit}: {:?}",
            sim.unit_status(&unit)
        );
    }
    assert_eq!(
        sim.app_revision_and_version(),
        (OLD_REVISION, OLD_VERSION.to_owned())
    );
    let windows = sim.windows();
    let rollback = sim.assert_one_at_a_time(&windows[windows_before..]);
    println!("rollback order: {}", rollback.join(", "));
    assert_eq!(
        rollback.first(),
        Some(first),
        "the failed unit rolls back first"
    );
    for (unit, client) in &units {
        let version = client.query("SELECT @@version AS v").expect("version");
        let version = version.first("v").unwrap_or_default();
        assert!(
            version.contains(&format!("-juju-sim-{OLD_VERSION}-")),
            "{unit} runs {version}"
        );
    }

    // Stop the client; every acknowledged row is on every server.
    stop.store(true, Ordering::SeqCst);
    let log = client.join().expect("client thread");
    let samples = monitor.join().expect("monitor thread");
    let written: BTreeSet<u64> = before
        .iter()
        .copied()
        .chain(log.written.iter().copied())
        .collect();
    let mut found = Vec::new();
    for (unit, client) in &units {
        let ids = wait_for_ids(client, &written);
        let missing: Vec<u64> = written.difference(&ids).copied().collect();
        assert!(missing.is_empty(), "{unit} lost rows {missing:?}");
        found.push(format!("{unit}={}", ids.len()));
    }

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

    println!(
        "mariadb rollback figures: rows written {} ({ROWS_BEFORE} before, {} during), \
         rows found {}, max units down {max_down}, failed reads on serving units {} \
         (reads {}, {} on the unit that was down), failed write attempts {}, \
         monitor rounds {}",
        written.len(),
        log.written.len(),
        found.join(" "),
        on_serving_units.len(),
        log.reads.len(),
        failed_reads.len() - on_serving_units.len(),
        log.failed_writes,
        samples.len(),
    );
    assert!(
        !log.written.is_empty(),
        "the client wrote nothing during the process"
    );
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
