//! `cargo xtask image` end to end, on a git repository holding a copy of
//! the demo: the real Docker engine builds the demo's generator-shaped
//! Dockerfile from the local base images; the container runs as nobody and
//! answers its health contract; no secret reaches the image; a lib-only
//! change reuses the deps layer; `--push` logs in through stdin to a real
//! registry (Debian's docker-registry, on loopback, with htpasswd auth) and
//! the image is pulled back by digest. Bad input stops before anything is
//! built.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::{
    docker, eventually, free_port, http_get, serial, sh, Daemon, Done, Net, Repo, IMAGES,
};

fn json(done: &Done) -> serde_json::Value {
    serde_json::from_str(&done.stdout).unwrap_or_else(|e| panic!("{e}: {}", done.all()))
}

#[test]
fn the_demo_image_builds_runs_as_nobody_keeps_no_secret_and_answers_its_health_contract() {
    let _s = serial();
    let repo = Repo::new("phx-xtask-e2e/demo-run");
    let marker = format!("marker-{}", std::process::id());
    let done = repo
        .xtask(&["image", "--output", "json"])
        .env("SECRET_KEY_BASE", &marker)
        .env("REGISTRY_PASSWORD", &marker)
        .env("DATABASE_URL", &format!("postgres://u:{marker}@db/x"))
        .run();
    assert_eq!(done.code, Some(0), "{}", done.all());
    let sha = sh(repo.dir(), "git rev-parse HEAD");
    let facts = &json(&done)["steps"][0]["facts"];
    let reference = facts["reference"].as_str().unwrap().to_string();
    assert_eq!(reference, "phx-xtask-e2e/demo-run:main");
    assert!(
        done.stderr.contains("-t phx-xtask-e2e/demo-run:latest"),
        "{}",
        done.stderr
    );
    assert!(
        done.stderr
            .contains(&format!("-t phx-xtask-e2e/demo-run:sha-{sha}")),
        "{}",
        done.stderr
    );
    let record = std::fs::read_to_string(repo.record()).unwrap();
    assert!(
        record.contains(&format!("\"git_sha\": \"{sha}\"")),
        "{record}"
    );
    // No planted secret in the image's env, labels or any layer's command.
    let (_, inspect) = docker(&["image", "inspect", &reference]);
    let (_, history) = docker(&["history", "--no-trunc", &reference]);
    assert!(
        !inspect.contains(&marker) && !history.contains(&marker),
        "a secret reached the image"
    );
    assert!(
        inspect.contains(&format!("\"org.opencontainers.image.revision\": \"{sha}\"")),
        "{inspect}"
    );

    let mut net = Net::create("phx-xtask-e2e");
    net.run("db", &["-e", "POSTGRES_PASSWORD=pw", IMAGES[0].1]);
    net.run("redis", &[IMAGES[1].1]);
    let app = net.run(
        "app",
        &[
            "-p",
            "127.0.0.1::4000",
            "-e",
            "SECRET_KEY_BASE=0123456789012345678901234567890123456789012345678901234567890123",
            "-e",
            "DATABASE_URL=postgres://postgres:pw@db:5432/postgres",
            "-e",
            "REDIS_URL=redis://redis:6379/0",
            &reference,
        ],
    );
    let (_, port) = docker(&["port", &app, "4000/tcp"]);
    let port: u16 = port
        .lines()
        .next()
        .unwrap()
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        docker(&["exec", &app, "id", "-u"]).1,
        "65534",
        "the release runs as nobody"
    );
    let (status, body) = eventually(Duration::from_secs(60), || {
        http_get(port, "/health").filter(|(s, _)| *s == 200)
    });
    assert!(
        body.contains("\"postgres\":\"ok\"") && body.contains("\"redis\":\"ok\""),
        "{status} {body}"
    );
    let (_, version) = http_get(port, "/version").unwrap();
    assert!(version.contains(&sha), "{version}");
    assert!(docker(&["stop", &format!("{}-redis", net.name)]).0);
    let (_, body) = eventually(Duration::from_secs(30), || {
        http_get(port, "/health").filter(|(s, _)| *s == 503)
    });
    assert!(body.contains("\"redis\":\"error\""), "{body}");
    assert_eq!(http_get(port, "/live").unwrap().0, 200);
}

#[test]
fn a_lib_only_change_reuses_the_deps_layer() {
    let _s = serial();
    let repo = Repo::new("phx-xtask-e2e/demo-cache");
    let first = repo.xtask(&["image", "--output", "plain"]).run();
    assert_eq!(first.code, Some(0), "{}", first.all());
    let lib = repo.dir().join("demo/lib/demo.ex");
    // Unique to this run: the daemon's build cache outlives test runs, and
    // an earlier run's identical change would be a cache hit.
    let nonce = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let text = std::fs::read_to_string(&lib).unwrap() + &format!("\n# a lib-only change {nonce}\n");
    std::fs::write(&lib, text).unwrap();
    sh(repo.dir(), "git commit -qam 'lib only'");
    let second = repo.xtask(&["image", "--output", "plain", "-v"]).run();
    assert_eq!(second.code, Some(0), "{}", second.all());
    let lines: Vec<&str> = second.stderr.lines().collect();
    let deps = lines
        .iter()
        .position(|l| l.contains(": RUN mix deps.compile"))
        .expect("a deps.compile step");
    assert!(
        lines[deps + 1].contains("Using cache") || lines[deps + 1].contains("CACHED"),
        "the deps layer was rebuilt:\n{}",
        lines[deps..deps + 3].join("\n")
    );
    let lib_step = lines
        .iter()
        .position(|l| l.contains(": COPY lib lib"))
        .expect("a COPY lib step");
    assert!(
        !lines[lib_step + 1].contains("Using cache"),
        "the lib layer was not rebuilt"
    );
}

#[test]
fn a_dockerfile_without_git_sha_builds_with_a_warning_that_gives_the_fix() {
    let _s = serial();
    let repo = Repo::new("phx-xtask-e2e/demo-nosha");
    // As `mix phx.gen.release --docker` writes it: no GIT_SHA in the image.
    let file = repo.dir().join("demo/Dockerfile");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("ARG GIT_SHA=unknown\n") && text.contains(" GIT_SHA=${GIT_SHA}"));
    let text = text
        .replace("ARG GIT_SHA=unknown\n", "")
        .replace(" GIT_SHA=${GIT_SHA}", "");
    std::fs::write(&file, &text).unwrap();
    sh(repo.dir(), "git commit -qam 'the generated Dockerfile'");
    let user = 1 + text
        .lines()
        .position(|l| l == "USER nobody")
        .expect("USER nobody");

    let done = repo.xtask(&["image", "--output", "plain"]).run();
    assert_eq!(done.code, Some(0), "{}", done.all());
    let warning = format!(
        "warning: Dockerfile does not pass the GIT_SHA build arg into the image, so the release \
         cannot say which revision it runs: add `ARG GIT_SHA` and `ENV GIT_SHA=${{GIT_SHA}}` to \
         its final stage, before `USER` (Dockerfile:{user})"
    );
    assert!(
        done.stderr.contains(&format!(
            "[image] {warning}:\n[image]     ARG GIT_SHA\n[image]     ENV GIT_SHA=${{GIT_SHA}}\n"
        )),
        "{}",
        done.stderr
    );
    assert!(
        done.row("image").contains(&warning),
        "{}",
        done.row("image")
    );
    // The warning is true, and the version label still names the revision.
    let sha = sh(repo.dir(), "git rev-parse HEAD");
    let (_, inspect) = docker(&["image", "inspect", "phx-xtask-e2e/demo-nosha:main"]);
    assert!(!inspect.contains("\"GIT_SHA="), "{inspect}");
    assert!(
        inspect.contains(&format!(
            "\"org.opencontainers.image.version\": \"main-{}\"",
            &sha[..7]
        )),
        "{inspect}"
    );

    // With the two lines where the warning says, it is gone.
    let fixed = text.replace(
        "USER nobody",
        "ARG GIT_SHA\nENV GIT_SHA=${GIT_SHA}\nUSER nobody",
    );
    std::fs::write(&file, fixed).unwrap();
    sh(repo.dir(), "git commit -qam 'GIT_SHA'");
    let done = repo.xtask(&["image", "--output", "plain"]).run();
    assert_eq!(done.code, Some(0), "{}", done.all());
    assert!(
        !done.stderr.contains("GIT_SHA build arg"),
        "{}",
        done.stderr
    );
    let sha = sh(repo.dir(), "git rev-parse HEAD");
    let (_, inspect) = docker(&["image", "inspect", "phx-xtask-e2e/demo-nosha:main"]);
    assert!(inspect.contains(&format!("\"GIT_SHA={sha}\"")), "{inspect}");
}

/// Debian's docker-registry on a free loopback port, with one htpasswd user.
struct Registry {
    // Stopped before its dir goes.
    daemon: Daemon,
    _dir: tempfile::TempDir,
}

impl Registry {
    fn start(user: &str, password: &str) -> Registry {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let htpasswd = dir.path().join("htpasswd");
        let ok = Command::new("htpasswd")
            .args(["-Bbc", htpasswd.to_str().unwrap(), user, password])
            .output()
            .unwrap();
        assert!(ok.status.success());
        let config = dir.path().join("config.yml");
        std::fs::write(&config, format!(
            "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\nauth:\n  htpasswd:\n    realm: phx-xtask\n    path: {}\n",
            dir.path().join("data").display(), htpasswd.display()
        )).unwrap();
        let mut cmd = Command::new("docker-registry");
        cmd.args(["serve", config.to_str().unwrap()]);
        Registry {
            daemon: Daemon::spawn(cmd, port),
            _dir: dir,
        }
    }

    fn port(&self) -> u16 {
        self.daemon.port
    }
}

#[test]
fn push_logs_in_through_stdin_and_the_image_pulls_back_by_digest() {
    let _s = serial();
    let password = format!("pw-{}-secret", std::process::id());
    let registry = Registry::start("ci", &password);
    let repository = format!("127.0.0.1:{}/demo", registry.port());
    let repo = Repo::new(&repository);
    let done = repo
        .xtask(&["image", "--push", "--output", "json", "-v"])
        .env("REGISTRY_USER", "ci")
        .env("REGISTRY_PASSWORD", &password)
        .run();
    assert_eq!(done.code, Some(0), "{}", done.all());
    assert!(!done.all().contains(&password), "the password was printed");
    assert!(
        done.stderr.contains(&format!(
            "$ docker login 127.0.0.1:{} -u ci --password-stdin < $REGISTRY_PASSWORD",
            registry.port()
        )),
        "{}",
        done.stderr
    );
    let digest = json(&done)["steps"][0]["facts"]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        digest.starts_with(&format!("{repository}@sha256:")),
        "{digest}"
    );
    assert!(std::fs::read_to_string(repo.record())
        .unwrap()
        .contains(&digest));
    // No credential outlives the run.
    assert!(!std::env::temp_dir()
        .join(format!("phx-xtask-docker-{}", std::process::id()))
        .exists());
    drop(repo);
    let config = tempfile::tempdir().unwrap();
    let login = Command::new("docker")
        .args([
            "--config",
            config.path().to_str().unwrap(),
            "login",
            &format!("127.0.0.1:{}", registry.port()),
            "-u",
            "ci",
            "--password-stdin",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut login = login;
        login
            .stdin
            .take()
            .unwrap()
            .write_all(password.as_bytes())
            .unwrap();
        assert!(login.wait().unwrap().success());
    }
    let (pulled, out) = docker(&["--config", config.path().to_str().unwrap(), "pull", &digest]);
    assert!(pulled, "{out}");
    let _ = docker(&["rmi", &digest]);
}

#[test]
fn bad_input_stops_before_anything_is_built() {
    let repo = Repo::new("registry.phx-xtask.test/demo-bad");
    let closed = free_port();
    // (what, args, env, the error it must name)
    type Case<'a> = (&'a str, Vec<&'a str>, Vec<(&'a str, String)>, String);
    let cases: Vec<Case> = vec![
        (
            "no credentials",
            vec!["image", "--push"],
            vec![],
            String::new(),
        ),
        (
            "unreachable registry",
            vec!["image", "--push"],
            vec![
                ("REGISTRY_USER", "u".into()),
                ("REGISTRY_PASSWORD", "p".into()),
            ],
            format!("registry = \"127.0.0.1:{closed}/demo\""),
        ),
        (
            "no buildx",
            vec!["image", "--platform", "linux/amd64,linux/arm64"],
            vec![],
            String::new(),
        ),
        (
            "no Dockerfile",
            vec!["image"],
            vec![],
            "dockerfile = \"Containerfile\"".into(),
        ),
    ];
    for (what, args, env, config) in cases {
        if config.starts_with("registry") {
            std::fs::write(
                repo.dir().join("xtask.toml"),
                format!("app_dir = \"demo\"\n[image]\n{config}\n"),
            )
            .unwrap();
        } else {
            repo.config(&config);
        }
        let mut run = repo.xtask(&args);
        for (k, v) in &env {
            run = run.env(k, v);
        }
        let done = run.run();
        assert_eq!(done.code, Some(2), "{what}: {}", done.all());
        let err = done.stderr.trim();
        let want = match what {
            "no credentials" => "needs credentials: set REGISTRY_USER and REGISTRY_PASSWORD",
            "unreachable registry" => "does not answer",
            "no buildx" => "docker buildx, which is not installed",
            _ => "no Dockerfile at",
        };
        assert!(err.contains(want), "{what}: {err}");
        assert_eq!(err.lines().count(), 1, "{what}: one error line: {err}");
        assert!(!repo.record().exists(), "{what}: something was built");
    }
    // A Dockerfile whose toolchain drifts from the pins.
    repo.config("");
    let dockerfile = repo.dir().join("demo/Dockerfile");
    let text = std::fs::read_to_string(&dockerfile).unwrap();
    std::fs::write(
        &dockerfile,
        text.replace("ARG ELIXIR_VERSION=1.15.7", "ARG ELIXIR_VERSION=1.14.5"),
    )
    .unwrap();
    let done = repo.xtask(&["image"]).run();
    assert_eq!(done.code, Some(2), "{}", done.all());
    assert!(
        done.stderr.contains(
            "ARG ELIXIR_VERSION defaults to \"1.14.5\", which is not a release of the pinned 1.15"
        ),
        "{}",
        done.stderr
    );
    // docker itself missing from PATH.
    std::fs::write(&dockerfile, text).unwrap();
    let bin = tempfile::tempdir().unwrap();
    for tool in ["git", "mix", "elixir", "erl"] {
        if let Ok(p) = which::which(tool) {
            std::os::unix::fs::symlink(p, bin.path().join(tool)).unwrap();
        }
    }
    let done = repo
        .xtask(&["image"])
        .env("PATH", bin.path().to_str().unwrap())
        .run();
    assert_eq!(done.code, Some(2), "{}", done.all());
    assert!(
        done.stderr.contains("`docker` is not on PATH"),
        "{}",
        done.stderr
    );
}

mod which {
    pub fn which(name: &str) -> Result<std::path::PathBuf, ()> {
        let path = std::env::var_os("PATH").ok_or(())?;
        std::env::split_paths(&path)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
            .ok_or(())
    }
}
