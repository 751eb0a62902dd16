//! End-to-end tests of `cargo xtask test` and `cargo xtask services`: the
//! demo's suite against docker, native and external services; partitions;
//! cleanup after success, failure, SIGINT, SIGTERM and SIGKILL; bad input;
//! and secrets. The docker tests use the local stand-in images through the
//! documented override (XTASK_POSTGRES_IMAGE, XTASK_REDIS_IMAGE).

mod common;

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{free_port, serial, App, Done, Run};

const PG_IMAGE: &str = "phx-xtask-local/postgres:15";
const REDIS_IMAGE: &str = "phx-xtask-local/redis:7";

fn with_images(run: Run) -> Run {
    run.env("XTASK_POSTGRES_IMAGE", PG_IMAGE)
        .env("XTASK_REDIS_IMAGE", REDIS_IMAGE)
}

/// The label value xtask gives this copy's containers (FNV-1a of the path).
fn project_id(app: &App) -> String {
    let path = app.dir().canonicalize().unwrap();
    let hash = path
        .as_os_str()
        .as_encoded_bytes()
        .iter()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
        });
    format!("{hash:016x}")
}

/// Ids of every container (running or not) labelled with this project.
fn containers(app: &App) -> Vec<String> {
    let filter = format!("label=dev.phx-xtask.project={}", project_id(app));
    let out = Command::new("docker")
        .args(["ps", "-aq", "--filter", &filter])
        .output()
        .expect("docker ps");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(String::from)
        .collect()
}

/// Processes whose command line or working directory mentions `needle`.
fn processes_mentioning(needle: &str) -> Vec<String> {
    let me = std::process::id().to_string();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let pid = entry.file_name().to_string_lossy().into_owned();
        if !pid.chars().all(|c| c.is_ascii_digit()) || pid == me {
            continue;
        }
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        let cwd = std::fs::read_link(entry.path().join("cwd"))
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        if cmdline.contains(needle) || cwd.contains(needle) {
            found.push(format!("{pid}: {cmdline} (in {cwd})"));
        }
    }
    found
}

/// Native services directories this project left in the temp dir.
fn native_dirs(app: &App) -> Vec<PathBuf> {
    let prefix = format!("phx-xtask-{}-", project_id(app));
    std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        .map(|e| e.path())
        .collect()
}

/// Asserts that nothing of this run is left: containers, processes, dirs.
fn assert_clean(app: &App) {
    assert_eq!(
        containers(app),
        Vec::<String>::new(),
        "labelled containers are left"
    );
    let tmp = app.tmp.path().display().to_string();
    let procs: Vec<String> = processes_mentioning(&tmp)
        .into_iter()
        .chain(processes_mentioning(&format!(
            "phx-xtask-{}-",
            project_id(app)
        )))
        .collect();
    assert!(
        procs.is_empty(),
        "processes are left:\n{}",
        procs.join("\n")
    );
    assert_eq!(
        native_dirs(app),
        Vec::<PathBuf>::new(),
        "native service dirs are left"
    );
}

fn db_hits(app: &App) -> Vec<(String, String)> {
    let dir = app.path("tmp/db_hits");
    let mut hits: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read_to_string(e.path()).unwrap(),
            )
        })
        .collect();
    hits.sort();
    hits
}

fn assert_passed(done: &Done) {
    assert_eq!(done.code, Some(0), "{}", done.all());
    assert!(
        done.stderr.contains("coverage: "),
        "no coverage total:\n{}",
        done.all()
    );
}

#[test]
fn docker_backend_runs_the_demo_suite_and_removes_its_containers() {
    let _g = serial();
    let app = App::demo_copy();
    let done = with_images(app.xtask(&["test", "--services", "docker", "-v"])).run();
    assert_passed(&done);
    assert!(
        done.stderr.contains("started containers"),
        "{}",
        done.stderr
    );
    assert!(
        done.stderr
            .contains("+ mix test --raise --cover --export-coverage suite"),
        "{}",
        done.stderr
    );
    let lcov = app.read("cover/lcov.info");
    assert!(
        lcov.contains("SF:lib/demo/pg.ex\n") && lcov.contains("end_of_record"),
        "{lcov}"
    );
    assert_eq!(
        db_hits(&app),
        vec![("partition-0.txt".into(), "demo_test".into())]
    );
    assert_clean(&app);
}

#[test]
fn native_backend_runs_the_demo_suite_and_stops_its_servers() {
    let _g = serial();
    let app = App::demo_copy();
    let done = app.xtask(&["test", "--services", "native", "-v"]).run();
    assert_passed(&done);
    assert!(
        done.stderr.contains("started postgres and redis-server in"),
        "{}",
        done.stderr
    );
    assert!(app.path("cover/lcov.info").is_file());
    assert_clean(&app);
}

/// Postgres (SCRAM, with a password) and Redis started by the test itself,
/// as `nobody` when we are root, for `--services external`.
struct OwnServers {
    _dir: tempfile::TempDir,
    children: Vec<Child>,
    pg_port: u16,
    redis_port: u16,
}

fn pg_bin(name: &str) -> PathBuf {
    let on_path = std::env::split_paths(&std::env::var_os("PATH").unwrap())
        .map(|d| d.join(name))
        .find(|p| p.is_file());
    // Else Debian's layout, as the product looks: bookworm has 15, trixie 17.
    on_path.unwrap_or_else(|| {
        let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .map(|d| d.flatten().map(|e| e.path().join("bin")).collect())
            .unwrap_or_default();
        dirs.sort();
        dirs.pop()
            .unwrap_or_else(|| PathBuf::from("/usr/lib/postgresql/15/bin"))
            .join(name)
    })
}

fn as_nobody<'a>(cmd: &'a mut Command, dir: &Path) -> &'a mut Command {
    cmd.current_dir(dir)
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        cmd.uid(65534).gid(65534);
    }
    cmd
}

impl OwnServers {
    fn start(password: &str) -> OwnServers {
        let dir = tempfile::Builder::new()
            .prefix("xtask-external-")
            .tempdir()
            .unwrap();
        if unsafe { libc::geteuid() } == 0 {
            std::os::unix::fs::chown(dir.path(), Some(65534), Some(65534)).unwrap();
        }
        let pwfile = dir.path().join("pw");
        std::fs::write(&pwfile, password).unwrap();
        if unsafe { libc::geteuid() } == 0 {
            std::os::unix::fs::chown(&pwfile, Some(65534), Some(65534)).unwrap();
        }
        let status = as_nobody(&mut Command::new(pg_bin("initdb")), dir.path())
            .args([
                "-D",
                "data",
                "-U",
                "postgres",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--no-sync",
            ])
            .arg(format!("--pwfile={}", pwfile.display()))
            .status()
            .unwrap();
        assert!(status.success(), "initdb failed");
        let (pg_port, redis_port) = (free_port(), free_port());
        let socket_dir = format!("unix_socket_directories={}", dir.path().display());
        let pg = as_nobody(&mut Command::new(pg_bin("postgres")), dir.path())
            .args([
                "-D",
                "data",
                "-p",
                &pg_port.to_string(),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                &socket_dir,
            ])
            .spawn()
            .unwrap();
        let redis = as_nobody(&mut Command::new("redis-server"), dir.path())
            .args([
                "--port",
                &redis_port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--dir",
            ])
            .arg(dir.path())
            .spawn()
            .unwrap();
        OwnServers {
            _dir: dir,
            children: vec![pg, redis],
            pg_port,
            redis_port,
        }
    }
}

impl Drop for OwnServers {
    fn drop(&mut self) {
        for c in &mut self.children {
            unsafe { libc::kill(-(c.id() as i32), libc::SIGINT) };
            let _ = c.wait();
        }
    }
}

#[test]
fn external_backend_uses_the_given_servers_and_starts_nothing() {
    let _g = serial();
    let app = App::demo_copy();
    let own = OwnServers::start("ext-pass-123");
    let db_url = format!(
        "postgres://postgres:ext-pass-123@127.0.0.1:{}/demo_ext_test",
        own.pg_port
    );
    let redis_url = format!("redis://127.0.0.1:{}/3", own.redis_port);
    let done = app
        .xtask(&["test", "--services", "external", "-v"])
        .env("DATABASE_URL", &db_url)
        .env("REDIS_URL", &redis_url)
        .run();
    assert_passed(&done);
    assert!(
        !done.all().contains("ext-pass-123"),
        "the password leaked:\n{}",
        done.all()
    );
    assert!(
        !done.stderr.contains("started"),
        "external mode started something:\n{}",
        done.stderr
    );
    assert!(
        done.stderr
            .contains(&format!("REDIS_URL=redis://127.0.0.1:{}/3", own.redis_port)),
        "{}",
        done.stderr
    );
    assert_eq!(
        db_hits(&app),
        vec![("partition-0.txt".into(), "demo_ext_test".into())]
    );
    assert_clean(&app);
}

#[test]
fn partitions_get_their_own_databases_and_a_failure_in_one_fails_the_run() {
    let _g = serial();
    let app = App::demo_copy();
    let done = app
        .xtask(&["test", "--services", "native", "--partitions", "2", "-v"])
        .run();
    assert_passed(&done);
    let hits = db_hits(&app);
    assert_eq!(
        hits,
        vec![
            ("partition-1.txt".into(), "demo_test1".into()),
            ("partition-2.txt".into(), "demo_test2".into())
        ],
        "each partition must reach its own database"
    );
    assert!(
        done.stderr
            .contains("from cover/partition-1.coverdata, cover/partition-2.coverdata"),
        "{}",
        done.stderr
    );

    // ExUnit assigns whole modules to partitions, so each of these failing
    // modules lands in one partition or the other; both failures show.
    for name in ["alpha", "omega"] {
        let module = format!("Demo.Zz{}FailTest", name.to_uppercase());
        let test = format!(
            "defmodule {module} do\n  use ExUnit.Case, async: true\n  test \"{name} fails on purpose\", do: assert(1 + 1 == 3)\nend\n"
        );
        app.write(&format!("test/demo/zz_{name}_fail_test.exs"), &test);
    }
    let done = app
        .xtask(&["test", "--services", "native", "--partitions", "2", "-v"])
        .run();
    assert_eq!(done.code, Some(1), "{}", done.all());
    assert!(
        done.stderr.contains("alpha fails on purpose")
            && done.stderr.contains("omega fails on purpose"),
        "{}",
        done.stderr
    );
    assert!(done.status_of("test").contains("failed"), "{}", done.stderr);
    assert_clean(&app);
}

/// Adds a test that announces itself in tmp/slow-started, then sleeps.
fn add_slow_test(app: &App) -> PathBuf {
    app.write(
        "test/demo/zz_slow_test.exs",
        "defmodule Demo.ZzSlowTest do\n  use ExUnit.Case\n  @tag timeout: :infinity\n  \
         test \"takes its time\" do\n    File.mkdir_p!(\"tmp\")\n    File.write!(\"tmp/slow-started\", \"\")\n    \
         Process.sleep(120_000)\n  end\nend\n",
    );
    app.path("tmp/slow-started")
}

/// Runs xtask with output in files (so nothing blocks on a full pipe).
fn spawn(app: &App, run: Run) -> (Child, PathBuf) {
    let mut cmd = run.cmd;
    let out = app.tmp.path().join("xtask.out");
    let file = std::fs::File::create(&out).unwrap();
    let child = cmd
        .stdin(Stdio::null())
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .spawn()
        .unwrap();
    (child, out)
}

fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn wait_exit(child: &mut Child, limit: Duration) -> Option<i32> {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code();
        }
        assert!(
            started.elapsed() < limit,
            "xtask did not exit within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn interrupt_mid_tests(backend: &str, signal: i32) {
    let _g = serial();
    let app = App::demo_copy();
    let marker = add_slow_test(&app);
    let (mut child, out) = spawn(
        &app,
        with_images(app.xtask(&["test", "--services", backend])),
    );
    wait_for("the slow test to start", Duration::from_secs(180), || {
        marker.exists()
    });
    unsafe { libc::kill(child.id() as i32, signal) };
    let code = wait_exit(&mut child, Duration::from_secs(30));
    let output = std::fs::read_to_string(out).unwrap();
    assert_eq!(code, Some(130), "{output}");
    assert!(output.contains("interrupted"), "{output}");
    assert_clean(&app);
}

#[test]
fn sigint_mid_tests_removes_the_containers_and_exits_130() {
    interrupt_mid_tests("docker", libc::SIGINT);
}

#[test]
fn sigterm_mid_tests_stops_the_native_servers_and_exits_130() {
    interrupt_mid_tests("native", libc::SIGTERM);
}

#[test]
fn sigterm_mid_tests_removes_the_containers_too() {
    interrupt_mid_tests("docker", libc::SIGTERM);
}

#[test]
fn after_sigkill_the_next_run_removes_the_orphans_and_says_so() {
    let _g = serial();
    let app = App::demo_copy();
    let (mut child, _) = spawn(
        &app,
        with_images(app.xtask(&["services", "up", "--services", "docker"])),
    );
    wait_for("both containers", Duration::from_secs(60), || {
        containers(&app).len() == 2
    });
    let pid = child.id();
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(
        containers(&app).len(),
        2,
        "SIGKILL cannot clean up, so the containers are orphans now"
    );

    let done = with_images(app.xtask(&["test", "--services", "docker"])).run();
    assert_passed(&done);
    assert!(
        done.stderr.contains("removed orphaned container"),
        "{}",
        done.stderr
    );
    assert!(
        done.stderr.contains(&format!("(pid {pid} is gone)")),
        "{}",
        done.stderr
    );
    assert_clean(&app);
}

#[test]
fn after_sigkill_native_orphans_are_stopped_by_the_next_run() {
    let app = App::demo_copy();
    let (mut child, out) = spawn(&app, app.xtask(&["services", "up", "--services", "native"]));
    wait_for("both servers", Duration::from_secs(60), || {
        std::fs::read_to_string(&out)
            .unwrap_or_default()
            .contains("running until Ctrl-C")
    });
    let prefix = format!("phx-xtask-{}-", project_id(&app));
    assert!(
        processes_mentioning(&prefix).len() >= 2,
        "postgres and redis run in {prefix}*"
    );
    let pid = child.id();
    child.kill().unwrap();
    child.wait().unwrap();
    let done = app
        .xtask(&[
            "services",
            "up",
            "--services",
            "native",
            "--exit-when-ready",
        ])
        .run();
    assert_eq!(done.code, Some(0), "{}", done.all());
    assert!(
        done.stderr.contains("removed orphaned native services in"),
        "{}",
        done.stderr
    );
    assert!(
        done.stderr.contains(&format!("(pid {pid} is gone)")),
        "{}",
        done.stderr
    );
    assert_clean(&app);
}

/// A container labelled as a run of this project, owned by `pid`, begun
/// at `began_ms` (the run label's time), as a killed run would leave it.
fn labelled_container(app: &App, pid: u32, began_ms: u128) -> String {
    let labels = [
        format!("dev.phx-xtask.project={}", project_id(app)),
        format!("dev.phx-xtask.run={began_ms:x}-{pid}"),
        format!("dev.phx-xtask.pid={pid}"),
        "dev.phx-xtask.service=redis".to_string(),
    ];
    let mut args = vec!["run".to_string(), "-d".into()];
    for l in labels {
        args.extend(["--label".to_string(), l]);
    }
    args.push(REDIS_IMAGE.into());
    let out = Command::new("docker").args(&args).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn a_live_pid_that_started_after_the_run_is_not_its_owner() {
    let app = App::demo_copy();
    // A live process whose pid labels two containers: one from a run that
    // began an hour before it started (so the pid was reused), one from a
    // run that began after it started (its own, still running).
    let mut owner = Command::new("sleep").arg("600").spawn().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    let pid = owner.id();
    let reused = labelled_container(&app, pid, now - 3_600_000);
    let live = labelled_container(&app, pid, now + 1000);

    let done = with_images(app.xtask(&[
        "services",
        "up",
        "--services",
        "docker",
        "--exit-when-ready",
    ]))
    .run();
    let kept = containers(&app);
    owner.kill().unwrap();
    owner.wait().unwrap();
    let _ = Command::new("docker").args(["rm", "-f", &live]).output();
    assert_eq!(done.code, Some(0), "{}", done.all());
    assert!(
        done.stderr.contains(&format!(
            "removed orphaned container {} (redis)",
            &reused[..12]
        )) && done.stderr.contains(&format!(
            "(pid {pid} is another process now: it started after the run began)"
        )),
        "{}",
        done.stderr
    );
    assert_eq!(
        kept.iter().map(|id| &id[..12]).collect::<Vec<_>>(),
        [&live[..12]],
        "the live run's container stays"
    );
    assert_clean(&app);
}

/// `services up --services docker`, in the background, once it is ready.
fn services_up(app: &App) -> (Child, PathBuf) {
    let (up, out) = spawn(
        app,
        with_images(app.xtask(&["services", "up", "--services", "docker"])),
    );
    wait_for("the URLs", Duration::from_secs(60), || {
        std::fs::read_to_string(&out)
            .unwrap_or_default()
            .contains("running until Ctrl-C")
    });
    (up, out)
}

#[test]
fn services_up_status_down() {
    let app = App::demo_copy();
    let (mut up, out) = services_up(&app);
    let printed = std::fs::read_to_string(&out).unwrap();
    assert!(
        printed.contains("DATABASE_URL=postgres://postgres:***@"),
        "{printed}"
    );
    assert!(printed.contains("ready in "), "{printed}");

    let status = app.xtask(&["services", "status"]).run();
    assert_eq!(status.code, Some(0), "{}", status.all());
    let rows: Vec<&str> = status.stdout.lines().skip(1).collect();
    assert_eq!(rows.len(), 2, "{}", status.stdout);
    assert!(
        rows.iter().all(|r| r.contains("(alive)")),
        "{}",
        status.stdout
    );
    assert!(
        status.stdout.contains("postgres") && status.stdout.contains("redis"),
        "{}",
        status.stdout
    );

    let down = app.xtask(&["services", "down"]).run();
    assert_eq!(down.code, Some(0), "{}", down.all());
    assert_eq!(
        down.stderr.matches("removed ").count(),
        2,
        "{}",
        down.stderr
    );
    // `up` notices that its containers are gone and ends by itself.
    let code = wait_exit(&mut up, Duration::from_secs(20));
    let printed = std::fs::read_to_string(&out).unwrap();
    assert_eq!(code, Some(0), "{printed}");
    assert!(
        printed.contains("stopping: `cargo xtask services down` removed the services"),
        "{printed}"
    );
    assert_clean(&app);
}

/// A container that stops while `up` watches (here killed, as an OOM kill
/// would) is a crash, not a `down`: `up` fails, says which one and why,
/// and removes the other.
#[test]
fn a_service_container_that_stops_on_its_own_fails_up() {
    let app = App::demo_copy();
    let (mut up, out) = services_up(&app);
    let filter = [
        format!("label=dev.phx-xtask.project={}", project_id(&app)),
        "label=dev.phx-xtask.service=postgres".to_string(),
    ];
    let ps = Command::new("docker")
        .args(["ps", "-q", "--filter", &filter[0], "--filter", &filter[1]])
        .output()
        .unwrap();
    let id = String::from_utf8_lossy(&ps.stdout).trim().to_string();
    assert!(!id.is_empty(), "no postgres container");
    let kill = Command::new("docker").args(["kill", &id]).output().unwrap();
    assert!(kill.status.success(), "{kill:?}");

    let code = wait_exit(&mut up, Duration::from_secs(30));
    let printed = std::fs::read_to_string(&out).unwrap();
    assert_eq!(code, Some(1), "{printed}");
    assert!(
        printed.contains(&format!("the postgres container {} stopped", &id[..12]))
            && printed.contains("stopping: a service stopped on its own"),
        "{printed}"
    );
    assert_clean(&app);
}

#[test]
fn docker_down_with_services_docker_suggests_native() {
    let app = App::demo_copy();
    let done = app
        .xtask(&["test", "--services", "docker"])
        .env("DOCKER_HOST", "unix:///nonexistent.sock")
        .run();
    assert_eq!(done.code, Some(2), "{}", done.all());
    assert!(
        done.stderr
            .contains("docker does not answer at unix:///nonexistent.sock"),
        "{}",
        done.stderr
    );
    assert!(done.stderr.contains("--services native"), "{}", done.stderr);
}

#[test]
fn a_configured_port_in_use_names_the_port_and_the_fix() {
    let app = App::demo_copy();
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port();
    app.write_config(&format!("[services]\npostgres_port = {port}\n"));
    let done = app.xtask(&["test", "--services", "native"]).run();
    assert_eq!(done.code, Some(2), "{}", done.all());
    assert!(
        done.stderr
            .contains(&format!("port {port} for postgres is already in use")),
        "{}",
        done.stderr
    );
    assert!(
        done.stderr.contains("[services] postgres_port"),
        "{}",
        done.stderr
    );
}

#[test]
fn an_invalid_database_url_is_rejected_before_anything_runs() {
    let app = App::demo_copy();
    let done = app
        .xtask(&["test", "--services", "external"])
        .env("DATABASE_URL", "postgres//user:hunter2@nowhere")
        .env("REDIS_URL", "redis://127.0.0.1:6379/0")
        .run();
    assert_eq!(done.code, Some(2), "{}", done.all());
    assert!(
        done.stderr.contains("DATABASE_URL is not a valid URL"),
        "{}",
        done.stderr
    );
    assert!(!done.all().contains("hunter2"), "{}", done.all());
}

#[test]
fn an_external_database_that_is_not_a_test_database_is_refused() {
    let app = App::demo_copy();
    let done = app
        .xtask(&["test", "--services", "external"])
        .env(
            "DATABASE_URL",
            "postgres://app:s3cret-pw@127.0.0.1:5432/shop_dev",
        )
        .env("REDIS_URL", "redis://127.0.0.1:6379/0")
        .run();
    assert_eq!(done.code, Some(2), "{}", done.all());
    assert!(done.stderr.contains("`shop_dev`"), "{}", done.stderr);
    assert!(done.stderr.contains("test database"), "{}", done.stderr);
    assert!(!done.all().contains("s3cret-pw"), "{}", done.all());
    assert!(!app.path("_build").exists(), "something ran");
}

#[test]
fn a_missing_image_names_the_image_and_the_override() {
    let app = App::demo_copy();
    let done = app
        .xtask(&["test", "--services", "docker"])
        .env("XTASK_POSTGRES_IMAGE", "phx-xtask-local/no-such-image:1")
        .env("XTASK_REDIS_IMAGE", REDIS_IMAGE)
        .run();
    assert_eq!(done.code, Some(1), "{}", done.all());
    assert!(
        done.stderr.contains("`phx-xtask-local/no-such-image:1`"),
        "{}",
        done.stderr
    );
    assert!(
        done.stderr.contains("XTASK_POSTGRES_IMAGE") && done.stderr.contains("postgres_image"),
        "{}",
        done.stderr
    );
    assert_clean(&app);
}

#[test]
fn an_unreachable_database_fails_within_the_timeout() {
    let _g = serial();
    let app = App::demo_copy();
    app.write_config("[services]\nready_timeout = 2\n");
    let (pg, redis) = (free_port(), free_port());
    let done = app
        .xtask(&["test", "--services", "external"])
        .env(
            "DATABASE_URL",
            &format!("postgres://postgres:pw@127.0.0.1:{pg}/demo_test"),
        )
        .env("REDIS_URL", &format!("redis://127.0.0.1:{redis}/0"))
        .run();
    assert_eq!(done.code, Some(1), "{}", done.all());
    assert!(
        done.stderr.contains(&format!(
            "postgres at 127.0.0.1:{pg} did not answer `SELECT 1`"
        )),
        "{}",
        done.stderr
    );
    // The failure names the configured bound: the wait gave up at its
    // deadline, not at some later timeout of its own.
    assert!(done.stderr.contains("within 2 s"), "{}", done.stderr);
}

#[test]
fn the_password_never_appears_in_any_output() {
    let _g = serial();
    let app = App::demo_copy();
    let marker = format!("mk-UNIQUE-{}-{}", std::process::id(), 7919);
    app.write_config(&format!("[services]\npostgres_password = \"{marker}\"\n"));
    for backend in ["native", "docker"] {
        let done =
            with_images(app.xtask(&["test", "--services", backend, "--output", "json", "-vv"]))
                .run();
        assert_eq!(done.code, Some(0), "{}", done.all());
        assert!(
            !done.stdout.contains(&marker),
            "{backend}: the password is on stdout:\n{}",
            done.stdout
        );
        assert!(
            !done.stderr.contains(&marker),
            "{backend}: the password is on stderr:\n{}",
            done.stderr
        );
        assert!(
            done.stdout.contains("postgres:***@") || done.stderr.contains("postgres:***@"),
            "{}",
            done.all()
        );
    }
    assert_clean(&app);
}

#[test]
fn dry_run_shows_every_partition_and_the_coverage_commands() {
    let app = App::demo_copy();
    let done = app
        .xtask(&[
            "test",
            "--services",
            "native",
            "--partitions",
            "2",
            "--dry-run",
        ])
        .run();
    assert_eq!(done.code, Some(0), "{}", done.all());
    for line in [
        "# start postgres and redis-server as child processes on free ports",
        "$ MIX_ENV=test mix do deps.compile + compile --warnings-as-errors",
        "create demo_test1, demo_test2",
        "$ DATABASE_URL='postgres://postgres:***@<host>:<port>/demo_test1' REDIS_URL='redis://<host>:<port>/1' MIX_ENV=test MIX_TEST_PARTITION=1 ",
        "XTASK_JUNIT=_build/xtask/junit-1.xml mix test --cover --export-coverage partition-1 --partitions 2 --formatter PhxXtask.JUnitFormatter --formatter ExUnit.CLIFormatter  &",
        "$ DATABASE_URL='postgres://postgres:***@<host>:<port>/demo_test2' REDIS_URL='redis://<host>:<port>/2' MIX_ENV=test MIX_TEST_PARTITION=2 ",
        "XTASK_JUNIT=_build/xtask/junit-2.xml mix test --cover --export-coverage partition-2 --partitions 2 --formatter PhxXtask.JUnitFormatter --formatter ExUnit.CLIFormatter  &",
        "$ MIX_ENV=test XTASK_COVER_EXPORTS=partition-1,partition-2 elixir _build/xtask/cover.exs",
    ] {
        assert!(done.stdout.contains(line), "missing `{line}` in:\n{}", done.stdout);
    }
    assert_clean(&app);
}

#[test]
fn coverage_below_the_xtask_toml_threshold_names_the_modules_that_pull_it_down() {
    let _g = serial();
    let app = App::demo_copy();
    app.write_config("[test]\ncoverage_threshold = 99.5\n");
    let done = app.xtask(&["test", "--services", "native", "-v"]).run();
    assert_eq!(done.code, Some(1), "{}", done.all());
    assert!(
        done.stderr
            .contains("(threshold 99.50% from [test] coverage_threshold in xtask.toml)"),
        "{}",
        done.stderr
    );
    assert!(
        done.stderr
            .contains("is below the threshold 99.50%; the modules that pull it down most:"),
        "{}",
        done.stderr
    );
    assert!(
        done.stderr.contains("  Demo.PG ") && done.stderr.contains("lines not covered"),
        "{}",
        done.stderr
    );
    // The script's own exit code (3) is what makes the fix about the threshold.
    assert!(
        done.row("test")
            .contains("fix: coverage is below the threshold"),
        "{}",
        done.row("test")
    );
    assert!(
        app.path("cover/lcov.info").is_file(),
        "lcov.info is written before the check"
    );
    assert_clean(&app);
}
