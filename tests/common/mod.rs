//! The end-to-end harness: run the real `xtask` binary against `demo/` or a
//! temporary copy of it (broken on purpose), and assert exit code, stdout,
//! stderr and side effects.
#![allow(dead_code)]

pub mod hosts;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The repository root (the folder holding xtask.toml and demo/).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Tests that run Mix share the machine's two cores and the PLT cache, so
/// they take turns; a failed test must not poison the others.
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// Where every test's PLT lives, so the ~90 s first build happens once.
pub fn shared_plt_dir() -> PathBuf {
    let dir = root().join("target").join("e2e-plts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A copy of demo/ in a temp dir, without build outputs, with its own
/// xtask.toml (shared PLT dir) that tests may extend.
pub struct App {
    pub tmp: tempfile::TempDir,
}

impl App {
    /// Two files of the demo where a compile-time call reaches a file with
    /// references of its own (a change to slug.ex recompiles route_table.ex):
    /// a chain `mix xref graph --label compile-connected` counts.
    pub fn add_compile_connected_chain(&self) {
        self.write(
            "lib/demo/route_table.ex",
            "defmodule Demo.RouteTable do\n  @moduledoc false\n  @paths Demo.RoutePaths.all()\n  def paths, do: @paths\nend\n",
        );
        self.write(
            "lib/demo/route_paths.ex",
            "defmodule Demo.RoutePaths do\n  @moduledoc false\n  def all, do: [Demo.Slug.slugify(\"Home Page\")]\nend\n",
        );
    }

    pub fn demo_copy() -> App {
        let tmp = tempfile::Builder::new()
            .prefix("phx-xtask-e2e-")
            .tempdir()
            .unwrap();
        let src = root().join("demo");
        copy_tree(&src, &tmp.path().join("demo"));
        let app = App { tmp };
        app.write_config("");
        app
    }

    pub fn dir(&self) -> PathBuf {
        self.tmp.path().join("demo")
    }

    pub fn config(&self) -> PathBuf {
        self.tmp.path().join("xtask.toml")
    }

    /// Writes xtask.toml: `app_dir` and the shared PLT dir, then `extra`,
    /// and the demo's own `[migrate]` commands unless `extra` has its own.
    pub fn write_config(&self, extra: &str) {
        let migrate = match extra.contains("[migrate]") {
            true => String::new(),
            false => demo_migrate_config(),
        };
        let text = format!(
            "app_dir = \"demo\"\n{extra}\n{migrate}\n[dialyzer]\nplt_dir = \"{}\"\n",
            shared_plt_dir().display()
        );
        std::fs::write(self.config(), text).unwrap();
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir().join(rel)
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap()
    }

    pub fn write(&self, rel: &str, text: &str) {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    /// `xtask ARGS` with this copy's config.
    pub fn xtask(&self, args: &[&str]) -> Run {
        xtask(args).env("XTASK_CONFIG", self.config().to_str().unwrap())
    }
}

/// The `[migrate]` section of the repository's xtask.toml: how the demo
/// migrates (it has no Ecto), so that every copy migrates the same way.
pub fn demo_migrate_config() -> String {
    let text = std::fs::read_to_string(root().join("xtask.toml")).unwrap();
    let Some(start) = text.find("\n[migrate]") else {
        return String::new();
    };
    let rest = &text[start + 1..];
    let end = rest[1..].find("\n[").map_or(rest.len(), |i| i + 2);
    rest[..end].to_string()
}

/// Copies the files a fresh clone of `src` would have: the ones git tracks
/// and the untracked ones it does not ignore, so no build output comes along.
pub fn copy_tree(src: &Path, dst: &Path) {
    let out = Command::new("git")
        .args([
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
            ".",
        ])
        .current_dir(src)
        .output()
        .expect("git lists the demo's files");
    assert!(
        out.status.success(),
        "git ls-files failed in {}",
        src.display()
    );
    for rel in out.stdout.split(|b| *b == 0).filter(|r| !r.is_empty()) {
        let rel = Path::new(std::str::from_utf8(rel).unwrap());
        let from = src.join(rel);
        if !from.is_file() {
            continue;
        }
        let to = dst.join(rel);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(&from, &to).unwrap();
    }
}

/// The service images the tests use unless the environment says otherwise.
pub const IMAGES: [(&str, &str); 2] = [
    ("XTASK_POSTGRES_IMAGE", "phx-xtask-local/postgres:15"),
    ("XTASK_REDIS_IMAGE", "phx-xtask-local/redis:7"),
];

pub struct Run {
    pub cmd: Command,
}

/// The real binary, run from the repo root with plain output.
pub fn xtask(args: &[&str]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_xtask"));
    cmd.args(args)
        .current_dir(root())
        .env("XTASK_ROOT", root())
        .env_remove("GITHUB_ACTIONS");
    cmd.env_remove("GITHUB_STEP_SUMMARY")
        .env_remove("XTASK_CONFIG")
        .env_remove("IN_NIX_SHELL")
        .env_remove("MIX_ENV")
        // CI=true makes `ci` keep going: the tests that want it set it.
        .env_remove("CI");
    // No registry is reachable here, so the tests use the stand-in images
    // that scripts/local-images.sh builds, through the documented override;
    // a machine with a registry may point these at the official images.
    for (var, image) in IMAGES {
        cmd.env(
            var,
            std::env::var(var).unwrap_or_else(|_| image.to_string()),
        );
    }
    Run { cmd }
}

pub struct Done {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Done {
    /// Everything printed, for assertions that do not care which stream.
    pub fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }

    /// The summary row of a step: `  failed      format ...`.
    pub fn row(&self, step: &str) -> String {
        let start = self
            .stderr
            .rfind("\nsummary\n")
            .unwrap_or_else(|| panic!("no summary in:\n{}", self.stderr));
        self.stderr[start..]
            .lines()
            .find(|l| l.split_whitespace().any(|w| w == step) && l.starts_with("  "))
            .unwrap_or_else(|| panic!("no row for {step} in:\n{}", self.stderr))
            .to_string()
    }

    pub fn status_of(&self, step: &str) -> String {
        let row = self.row(step);
        let before: Vec<&str> = row.split_whitespace().take_while(|w| *w != step).collect();
        before.join(" ")
    }
}

impl Run {
    pub fn env(mut self, k: &str, v: &str) -> Run {
        self.cmd.env(k, v);
        self
    }

    pub fn run(mut self) -> Done {
        let out: Output = self.cmd.stdin(Stdio::null()).output().expect("run xtask");
        Done {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    pub fn spawn(mut self) -> std::process::Child {
        self.cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn xtask")
    }
}

/// `sh -c SCRIPT` in `dir` with a git identity; fails the test on failure.
pub fn sh(dir: &Path, script: &str) -> String {
    let out = Command::new("sh")
        .args(["-c", script])
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@t")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@t")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// `GET path` on a loopback port: the status and the body.
pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    http_get_at("127.0.0.1", port, path)
}

/// `GET path` on a loopback address and port (a simulated host's own).
pub fn http_get_at(ip: &str, port: u16, path: &str) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect((ip, port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    Some((
        status,
        text.split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default(),
    ))
}

/// Polls until `f` gives Some, for at most `limit` (a guard, not a measure).
pub fn eventually<T>(limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let started = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(started.elapsed() < limit, "gave up waiting");
        std::thread::sleep(Duration::from_millis(200));
    }
}

pub const BUILDER: &str = "phx-xtask-local/elixir-builder:1.14-erlang-25-debian-bookworm";
pub const RUNNER: &str = "phx-xtask-local/runner:bookworm";

/// A git repository with a copy of demo/ and an xtask.toml naming
/// `repository` and the local base images; removes its images on drop.
pub struct Repo {
    pub tmp: tempfile::TempDir,
    pub repository: String,
}

impl Repo {
    pub fn new(repository: &str) -> Repo {
        let tmp = tempfile::Builder::new()
            .prefix("phx-xtask-image-")
            .tempdir()
            .unwrap();
        copy_tree(&root().join("demo"), &tmp.path().join("demo"));
        let repo = Repo {
            tmp,
            repository: repository.to_string(),
        };
        repo.config("");
        sh(
            repo.dir(),
            "git init -q -b main && git add -A && git commit -qm demo",
        );
        repo
    }

    pub fn dir(&self) -> &Path {
        self.tmp.path()
    }

    pub fn config(&self, extra: &str) {
        let text = format!(
            "app_dir = \"demo\"\n[image]\nregistry = \"{}\"\n{extra}\n[image.build_args]\nBUILDER_IMAGE = \"{BUILDER}\"\nRUNNER_IMAGE = \"{RUNNER}\"\nBUILD_ASSETS = \"false\"\n",
            self.repository
        );
        std::fs::write(self.dir().join("xtask.toml"), text).unwrap();
    }

    pub fn xtask(&self, args: &[&str]) -> Run {
        xtask(args)
            .env(
                "XTASK_CONFIG",
                self.dir().join("xtask.toml").to_str().unwrap(),
            )
            .env("XTASK_ROOT", self.dir().to_str().unwrap())
    }

    pub fn record(&self) -> PathBuf {
        self.dir().join(".xtask/image.json")
    }
}

impl Drop for Repo {
    fn drop(&mut self) {
        let images = sh(
            self.dir(),
            &format!(
                "docker images --format '{{{{.Repository}}}}:{{{{.Tag}}}}' {}",
                self.repository
            ),
        );
        for image in images.lines().filter(|l| !l.is_empty()) {
            let _ = Command::new("docker").args(["rmi", "-f", image]).output();
        }
    }
}

/// `docker ARGS`: whether it succeeded, and what it printed.
pub fn docker(args: &[&str]) -> (bool, String) {
    let out = Command::new("docker").args(args).output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text.trim().to_string())
}

/// A loopback port nothing listens on (yet).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A real server we start on a loopback port (nginx, docker-registry):
/// waited for until the port answers, stopped with SIGTERM on drop so it
/// can stop its own workers.
pub struct Daemon {
    child: std::process::Child,
    pub port: u16,
}

impl Daemon {
    pub fn spawn(mut cmd: Command, port: u16) -> Daemon {
        let program = cmd.get_program().to_string_lossy().into_owned();
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{program} is installed: {e}"));
        let daemon = Daemon { child, port };
        eventually(Duration::from_secs(30), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).ok()
        });
        daemon
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // SAFETY: kill(2) on the pid of a child we started and not yet reaped.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(10);
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        // Still there after 10 s: no test waits on a hung server.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A docker network of the test's own and the containers run on it, each
/// reachable by its alias; all removed on drop.
pub struct Net {
    pub name: String,
    containers: Vec<String>,
}

impl Net {
    pub fn create(prefix: &str) -> Net {
        let name = format!("{prefix}-{}", std::process::id());
        let (ok, out) = docker(&["network", "create", &name]);
        assert!(ok, "{out}");
        Net {
            name,
            containers: Vec::new(),
        }
    }

    /// `docker run -d` on the network as `alias`; the container's name.
    pub fn run(&mut self, alias: &str, args: &[&str]) -> String {
        let name = format!("{}-{alias}", self.name);
        let mut all = vec![
            "run",
            "-d",
            "--name",
            &name,
            "--network",
            &self.name,
            "--network-alias",
            alias,
        ];
        all.extend(args);
        let (ok, out) = docker(&all);
        self.containers.push(name.clone());
        assert!(ok, "{out}");
        name
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        // Also what others started on it (a deploy's releases).
        let filter = format!("network={}", self.name);
        let (_, ids) = docker(&["ps", "-aq", "--filter", &filter]);
        for c in self
            .containers
            .iter()
            .map(String::as_str)
            .chain(ids.lines())
        {
            let _ = docker(&["rm", "-f", c]);
        }
        let _ = docker(&["network", "rm", &self.name]);
    }
}

/// Whether these tests run in scripts/in-trixie.sh's container (Elixir 1.18
/// / OTP 27), which sets XTASK_E2E_TOOLCHAIN=trixie.
pub fn on_trixie() -> bool {
    std::env::var("XTASK_E2E_TOOLCHAIN").as_deref() == Ok("trixie")
}

/// Whether a test that runs cargo itself can run here. The trixie container
/// has no Rust: the host's cargo would build into this checkout's target/
/// against trixie's newer glibc, leaving artifacts the host cannot run. So
/// there, and only there, the test says it is skipped and returns.
pub fn cargo_here(test: &str) -> bool {
    if on_trixie() {
        eprintln!(
            "skipped on the trixie toolchain: {test} runs cargo, which exists on the host only"
        );
        return false;
    }
    true
}

/// One client thread through the proxy until stopped; counts what failed.
pub struct Load {
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicUsize>,
    failed: Arc<Mutex<Vec<String>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Load {
    pub fn start(port: u16) -> Load {
        Load::start_at("127.0.0.1", port)
    }

    /// Bounded: loopback only, one thread, at most 200,000 requests.
    pub fn start_at(ip: &str, port: u16) -> Load {
        let ip = ip.to_string();
        let (stop, ok, failed) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicUsize::new(0)),
            Arc::new(Mutex::new(Vec::new())),
        );
        let (s, o, f) = (stop.clone(), ok.clone(), failed.clone());
        let thread = std::thread::spawn(move || {
            // Bounded in count as well as by the stop flag.
            for _ in 0..200_000 {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                match http_get_at(&ip, port, "/live") {
                    Some((200, _)) => {
                        o.fetch_add(1, Ordering::SeqCst);
                    }
                    other => f.lock().unwrap().push(format!("{other:?}")),
                }
            }
        });
        Load {
            stop,
            ok,
            failed,
            thread: Some(thread),
        }
    }

    /// (served, failures)
    pub fn finish(mut self) -> (usize, Vec<String>) {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.take().unwrap().join().unwrap();
        (
            self.ok.load(Ordering::SeqCst),
            self.failed.lock().unwrap().clone(),
        )
    }
}
