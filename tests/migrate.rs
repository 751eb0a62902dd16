//! `cargo xtask migrate` end to end, on copies of the demo against a real
//! Postgres (`cargo xtask services up`): status before and after, an
//! idempotent re-run, rollback, the release image's `bin/migrate` in a
//! one-off container, the Fly target through a `flyctl` stand-in; `migrate
//! check` passing on the demo and failing on copies broken on purpose (an
//! irreversible migration, one lint rule each, the allow comment); and bad
//! input (an unreachable database, a bad file name, no flyctl, no token, no
//! image).

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use common::{demo_migrate_config, root, serial, App, Done};

const FIRST: &str = "20250301120000";
const SECOND: &str = "20250301120100";
const THIRD: &str = "20250301120200";

/// A copy of the demo, configured as the demo is (`[migrate]` included),
/// plus `extra`.
fn demo(extra: &str) -> App {
    let app = App::demo_copy();
    if !extra.is_empty() {
        app.write_config(extra);
    }
    app
}

/// Postgres and Redis from `cargo xtask services up` for this copy, until drop.
struct Services {
    child: Child,
    app_config: PathBuf,
    database_url: String,
    redis_url: String,
}

impl Services {
    fn up(app: &App) -> Services {
        let out = app.tmp.path().join("services.out");
        let mut run = app.xtask(&["services", "up", "--services", "docker"]);
        run.cmd
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(std::fs::File::create(app.tmp.path().join("services.err")).unwrap());
        let child = run.cmd.spawn().unwrap();
        let deadline = Instant::now() + Duration::from_secs(90);
        let printed = loop {
            let text = std::fs::read_to_string(&out).unwrap_or_default();
            if text.contains("REDIS_URL=") {
                break text;
            }
            assert!(Instant::now() < deadline, "services up printed no URLs");
            std::thread::sleep(Duration::from_millis(100));
        };
        let url = |var: &str| {
            let line = printed.lines().find(|l| l.starts_with(var)).unwrap();
            // The default password, masked in what services up prints.
            line[var.len() + 1..].replace(":***@", ":postgres@")
        };
        Services {
            child,
            app_config: app.config(),
            database_url: url("DATABASE_URL"),
            redis_url: url("REDIS_URL"),
        }
    }
}

impl Drop for Services {
    fn drop(&mut self) {
        let _ = Command::new(env!("CARGO_BIN_EXE_xtask"))
            .args(["services", "down"])
            .env("XTASK_CONFIG", &self.app_config)
            .output();
        let _ = self.child.wait();
    }
}

fn with_db(run: common::Run, s: &Services) -> common::Run {
    run.env("DATABASE_URL", &s.database_url)
        .env("REDIS_URL", &s.redis_url)
}

/// `host:port` of a database URL (`…@host:port/db`).
fn host_port(url: &str) -> &str {
    let rest = &url[url.rfind('@').expect("a URL with credentials") + 1..];
    rest.split('/').next().unwrap()
}

fn status_lines(done: &Done) -> Vec<String> {
    done.stdout
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().take(2).collect::<Vec<_>>().join(" "))
        .collect()
}

fn assert_ok(done: &Done) {
    assert_eq!(done.code, Some(0), "{}", done.all());
}

#[test]
fn status_migrate_rerun_and_rollback_on_a_real_database() {
    let _s = serial();
    let app = demo("");
    let db = Services::up(&app);

    let before = with_db(app.xtask(&["migrate", "status"]), &db).run();
    assert_ok(&before);
    assert_eq!(
        status_lines(&before),
        [
            format!("down {FIRST}"),
            format!("down {SECOND}"),
            format!("down {THIRD}")
        ]
    );
    assert!(
        before.stdout.starts_with("STATUS  VERSION"),
        "{}",
        before.stdout
    );

    let up = with_db(app.xtask(&["migrate"]), &db).run();
    assert_ok(&up);
    assert!(
        up.stderr
            .contains("$ mix run --no-start -e 'Demo.Release.migrate()'"),
        "{}",
        up.stderr
    );
    assert!(
        up.stderr.contains(&format!("Migrated {THIRD}")),
        "{}",
        up.stderr
    );
    // The host is the one the services published on: 127.0.0.1, or the
    // bridge gateway when this runs inside a container.
    let at = format!(
        "demo_test on postgres at {}: 3 up, 0 down",
        host_port(&db.database_url)
    );
    assert!(up.stderr.contains(&at), "{at}\n{}", up.stderr);
    assert!(
        !up.all().contains(":postgres@"),
        "the password is masked: {}",
        up.all()
    );

    // A re-run changes nothing and says so.
    let again = with_db(app.xtask(&["migrate"]), &db).run();
    assert_ok(&again);
    assert!(
        again.stderr.contains("Migrations already up"),
        "{}",
        again.stderr
    );
    assert!(again.stderr.contains(": 3 up, 0 down"), "{}", again.stderr);

    let json = with_db(app.xtask(&["migrate", "status", "--output", "json"]), &db).run();
    assert_ok(&json);
    let value: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(value["database"], "demo_test");
    let states: Vec<&str> = value["migrations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["status"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["up", "up", "up"]);
    assert_eq!(
        value["migrations"][0]["file"],
        format!("priv/repo/migrations/{FIRST}_create_products.exs")
    );

    let back = with_db(app.xtask(&["migrate", "rollback", "--to", SECOND]), &db).run();
    assert_ok(&back);
    assert!(
        back.stderr
            .contains(&format!("Demo.Release.rollback(Demo.Repo, {SECOND})")),
        "{}",
        back.stderr
    );
    assert!(back.stderr.contains(": 1 up, 2 down"), "{}", back.stderr);
    let after = with_db(app.xtask(&["migrate", "status"]), &db).run();
    assert_eq!(
        status_lines(&after),
        [
            format!("up {FIRST}"),
            format!("down {SECOND}"),
            format!("down {THIRD}")
        ]
    );
}

#[test]
fn without_database_url_it_migrates_throwaway_services_and_says_which_database() {
    let _s = serial();
    let app = demo("");
    let done = app.xtask(&["migrate"]).run();
    assert_ok(&done);
    assert!(
        done.stderr.contains("DATABASE_URL is not set: starting"),
        "{}",
        done.stderr
    );
    let exported = done
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("export DATABASE_URL="))
        .expect("the throwaway DATABASE_URL is printed");
    let at = format!(
        "demo_migrate on postgres at {}: 3 up, 0 down",
        host_port(exported)
    );
    assert!(done.stderr.contains(&at), "{at}\n{}", done.stderr);
    assert!(
        done.stderr.contains("throwaway database"),
        "{}",
        done.stderr
    );
}

/// A demo image built from demo/Dockerfile with the local base images,
/// under a tag of its own; removed on drop.
struct Image(String);

impl Image {
    fn build(app: &App) -> Image {
        let tag = format!("phx-xtask-e2e/migrate:{}", std::process::id());
        let out = Command::new("docker")
            .args(["build", "-q", "-f", "Dockerfile"])
            .args([
                "--build-arg",
                "BUILDER_IMAGE=phx-xtask-local/elixir-builder:1.14-erlang-25-debian-bookworm",
            ])
            .args([
                "--build-arg",
                "RUNNER_IMAGE=phx-xtask-local/runner:bookworm",
            ])
            .args(["--build-arg", "BUILD_ASSETS=false", "-t", &tag, "."])
            .current_dir(app.dir())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "docker build: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Image(tag)
    }
}

impl Drop for Image {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(["rmi", "-f", &self.0]).output();
    }
}

#[test]
fn the_image_target_migrates_from_a_one_off_container() {
    let _s = serial();
    let app = demo("");
    let image = Image::build(&app);
    let db = Services::up(&app);
    // The image `cargo xtask image` recorded is the default.
    let record = serde_json::json!({
        "ref": image.0, "tags": [image.0], "id": "", "digest": null, "git_sha": "", "created": ""
    });
    std::fs::create_dir_all(app.tmp.path().join(".xtask")).unwrap();
    std::fs::write(app.tmp.path().join(".xtask/image.json"), record.to_string()).unwrap();

    let done = with_db(app.xtask(&["migrate", "--target", "image"]), &db).run();
    assert_ok(&done);
    assert!(
        done.stderr.contains("$ docker run --rm --network host"),
        "{}",
        done.stderr
    );
    assert!(
        done.stderr.contains(&format!(
            "-e DATABASE_URL -e SECRET_KEY_BASE -e REDIS_URL {} /app/bin/migrate",
            image.0
        )),
        "{}",
        done.stderr
    );
    assert!(
        done.stderr
            .contains("SECRET_KEY_BASE is not set: the container gets a throwaway one"),
        "{}",
        done.stderr
    );
    assert!(
        done.stderr.contains(&format!("Migrated {THIRD}")),
        "{}",
        done.stderr
    );
    assert!(done.stderr.contains(": 3 up, 0 down"), "{}", done.stderr);
    assert!(!done.all().contains(":postgres@"), "{}", done.all());

    // Idempotent from the image too; no container is left behind.
    let again = with_db(
        app.xtask(&["migrate", "--target", "image", "--image", &image.0]),
        &db,
    )
    .run();
    assert_ok(&again);
    assert!(
        again.stderr.contains("Migrations already up"),
        "{}",
        again.stderr
    );
    let left = Command::new("docker")
        .args([
            "ps",
            "-aq",
            "--filter",
            "label=dev.phx-xtask.service=migrate",
        ])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&left.stdout).trim().is_empty(),
        "containers left"
    );
}

#[test]
fn an_image_that_does_not_exist_is_named() {
    let app = demo("");
    let done = app
        .xtask(&[
            "migrate",
            "--target",
            "image",
            "--image",
            "phx-xtask-e2e/missing:nope",
        ])
        .env("DATABASE_URL", "postgres://u:pw@127.0.0.1:1/db")
        .run();
    assert_eq!(done.code, Some(2), "{}", done.all());
    assert!(
        done.stderr
            .contains("the image phx-xtask-e2e/missing:nope does not exist here"),
        "{}",
        done.stderr
    );
    // Without --image, the recorded one is needed.
    let done = app.xtask(&["migrate", "--target", "image"]).run();
    assert_eq!(done.code, Some(2), "{}", done.all());
    assert!(done.stderr.contains("cargo xtask image"), "{}", done.stderr);
}

/// A `flyctl` that records its argv, and whether FLY_API_TOKEN was set, in
/// `record`; returns the PATH that finds it first.
fn fly_stand_in(dir: &Path) -> (String, PathBuf) {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let record = dir.join("flyctl.record");
    let script = format!(
        "#!/bin/sh\n# flyctl stand-in: records argv and whether the token is set.\n\
         for a in \"$@\"; do printf '%s\\n' \"$a\"; done > '{}'\n\
         if [ -n \"$FLY_API_TOKEN\" ]; then echo token=set; else echo token=unset; fi >> '{}'\n\
         echo 'Migrated 20250301120200'\n",
        record.display(),
        record.display()
    );
    let path = bin.join("flyctl");
    std::fs::write(&path, script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path_var = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    (path_var, record)
}

#[test]
fn the_fly_target_runs_flyctl_with_the_exact_argv_and_the_token_from_the_environment() {
    let app = demo("");
    let (path, record) = fly_stand_in(app.tmp.path());
    let done = app
        .xtask(&["migrate", "--target", "fly", "--app", "demo-prod"])
        .env("PATH", &path)
        .env("FLY_API_TOKEN", "fly-token-hunter2")
        .run();
    assert_ok(&done);
    let got = std::fs::read_to_string(&record).unwrap();
    assert_eq!(
        got,
        "ssh\nconsole\n--app\ndemo-prod\n--command\n/app/bin/migrate\ntoken=set\n"
    );
    assert!(
        done.stderr
            .contains("$ flyctl ssh console --app demo-prod --command /app/bin/migrate"),
        "{}",
        done.stderr
    );
    assert!(!done.all().contains("hunter2"), "{}", done.all());
}

#[test]
fn the_fly_target_needs_its_app_flyctl_and_the_token() {
    let app = demo("");
    let (path, record) = fly_stand_in(app.tmp.path());
    let no_app = app
        .xtask(&["migrate", "--target", "fly"])
        .env("PATH", &path)
        .run();
    assert_eq!(no_app.code, Some(2), "{}", no_app.all());
    assert!(
        no_app.stderr.contains("--target fly needs --app NAME"),
        "{}",
        no_app.stderr
    );

    let mut run = app.xtask(&["migrate", "--target", "fly", "--app", "demo-prod"]);
    run.cmd.env_remove("FLY_API_TOKEN");
    let no_token = run.env("PATH", &path).run();
    assert_eq!(no_token.code, Some(2), "{}", no_token.all());
    assert!(
        no_token.stderr.contains("FLY_API_TOKEN is not set"),
        "{}",
        no_token.stderr
    );
    assert!(!record.exists(), "flyctl ran without a token");

    let no_flyctl = app
        .xtask(&["migrate", "--target", "fly", "--app", "demo-prod"])
        .env("PATH", "/usr/bin:/bin")
        .env("FLY_API_TOKEN", "fly-token-hunter2")
        .run();
    assert_eq!(no_flyctl.code, Some(2), "{}", no_flyctl.all());
    assert!(
        no_flyctl.stderr.contains("`flyctl` is not on PATH"),
        "{}",
        no_flyctl.stderr
    );
    assert!(!no_flyctl.all().contains("hunter2"), "{}", no_flyctl.all());
}

#[test]
fn an_unreachable_database_fails_within_its_bound() {
    let app = demo(&format!("{}connect_timeout = 2\n", demo_migrate_config()));
    // Accepted by the kernel, never answered: a server that hangs.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let started = Instant::now();
    let done = app
        .xtask(&["migrate"])
        .env(
            "DATABASE_URL",
            &format!("postgres://postgres:hunter2@127.0.0.1:{port}/demo_dev"),
        )
        .run();
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(done.code, Some(2), "{}", done.all());
    assert!(
        done.stderr.contains(&format!(
            "postgres at 127.0.0.1:{port} did not answer within 2 s"
        )),
        "{}",
        done.stderr
    );
    assert!(!done.all().contains("hunter2"), "{}", done.all());
    assert!(!done.all().contains("$ mix"), "nothing ran: {}", done.all());
}

#[test]
fn a_bad_migration_file_name_is_named() {
    let app = demo("");
    app.write(
        "priv/repo/migrations/2024_oops.exs",
        "# not a migration name\n",
    );
    let done = app
        .xtask(&["migrate", "status"])
        .env("DATABASE_URL", "postgres://u:pw@127.0.0.1:1/db")
        .run();
    assert_eq!(done.code, Some(2), "{}", done.all());
    assert!(
        done.stderr.contains("bad migration file name(s):")
            && done.stderr.contains("2024_oops.exs"),
        "{}",
        done.stderr
    );
    let check = app.xtask(&["migrate", "check"]).run();
    assert_eq!(check.code, Some(1), "{}", check.all());
    assert!(check.stderr.contains("2024_oops.exs"), "{}", check.stderr);
    assert!(
        check.row("migrations").contains("failed") || check.status_of("migrations") == "failed"
    );
}

#[test]
fn migrate_check_passes_on_the_demo() {
    let _s = serial();
    let app = demo("");
    let started = Instant::now();
    let done = app.xtask(&["migrate", "check", "-v"]).run();
    eprintln!(
        "migrate check on the demo: {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert_ok(&done);
    assert_eq!(done.status_of("migrations"), "ok");
    for file in [
        format!("{FIRST}_create_products.exs"),
        format!("{THIRD}_add_products_slug.exs"),
    ] {
        assert!(
            done.stderr.contains(&format!("{file}: reversible")),
            "{}",
            done.stderr
        );
    }
    assert!(done.stderr.contains("linted 3 files"), "{}", done.stderr);
}

#[test]
fn an_irreversible_migration_is_named_with_the_schema_difference() {
    let _s = serial();
    let app = demo("");
    // Its down "restores" the slug's type wrongly: down and up again leave
    // a different schema than up alone did.
    app.write(
        "priv/repo/migrations/20250301120300_add_products_note.exs",
        "# Migration: adds a note to products.\n\
         defmodule Demo.Repo.Migrations.AddProductsNote do\n\
         \x20 def up, do: [\"ALTER TABLE products ADD COLUMN note text\"]\n\n\
         \x20 def down,\n\
         \x20   do: [\"ALTER TABLE products DROP COLUMN note\", \"ALTER TABLE products ALTER COLUMN slug TYPE text\"]\n\
         end\n",
    );
    let done = app.xtask(&["migrate", "check"]).run();
    assert_eq!(done.code, Some(1), "{}", done.all());
    assert!(
        done.stderr
            .contains("20250301120300_add_products_note.exs is not reversible"),
        "{}",
        done.stderr
    );
    assert!(
        done.stderr
            .contains("- column products.slug character varying(255)"),
        "{}",
        done.stderr
    );
    assert!(
        done.stderr.contains("+ column products.slug text"),
        "{}",
        done.stderr
    );

    // A down that leaves something its up creates: up again fails, named.
    let app = demo("");
    app.write(
        "priv/repo/migrations/20250301120300_add_products_name_index.exs",
        "# Migration: indexes product names.\n\
         defmodule Demo.Repo.Migrations.AddProductsNameIndex do\n\
         \x20 def up, do: [\"CREATE INDEX products_name_index ON products (name)\"]\n\
         \x20 def down, do: [\"SELECT 1\"]\n\
         end\n",
    );
    let done = app.xtask(&["migrate", "check"]).run();
    assert_eq!(done.code, Some(1), "{}", done.all());
    // Its down leaves the index: found after the down, before any up again.
    assert!(
        done.stderr
            .contains("20250301120300_add_products_name_index.exs is not reversible"),
        "{}",
        done.stderr
    );
    assert!(
        done.stderr
            .contains("+ index products_name_index: CREATE INDEX"),
        "{}",
        done.stderr
    );
}

/// The fixture cases of one lint rule each: (case dir, rule, lint options).
fn rule_cases() -> Vec<(PathBuf, String, String)> {
    let dir = root().join("tests/fixtures/migrations");
    let mut cases = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap().flatten() {
        let expect = std::fs::read_to_string(entry.path().join("expect")).unwrap_or_default();
        let rules: Vec<&str> = expect
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect();
        let name = entry.file_name().to_string_lossy().into_owned();
        if let [rule] = rules.as_slice() {
            if !name.starts_with("allow") && *rule != "error" {
                let args = std::fs::read_to_string(entry.path().join("args")).unwrap_or_default();
                cases.push((entry.path(), rule.to_string(), args));
            }
        }
    }
    cases.sort();
    cases
}

fn migration_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            if e.path().is_dir() {
                stack.push(e.path());
            } else if e.path().extension().is_some_and(|x| x == "exs") {
                out.push(e.path());
            }
        }
    }
    out.sort();
    out
}

/// `[toolchain] postgres` and `[migrate] lint_after` from a case's lint options.
fn case_config(args: &str) -> String {
    let words: Vec<&str> = args.split_whitespace().collect();
    let get = |flag: &str| words.iter().position(|w| *w == flag).map(|i| words[i + 1]);
    let mut extra = String::new();
    if let Some(pg) = get("--postgres") {
        extra.push_str(&format!("[toolchain]\npostgres = \"{pg}\"\n"));
    }
    extra
}

/// A copy of the demo with `case`'s migration files beside its own.
fn with_case(case: &Path, extra: &str) -> (App, Vec<String>) {
    let app = demo(extra);
    let mut names = Vec::new();
    for file in migration_files(case) {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let mut text = String::new();
        std::fs::File::open(&file)
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        app.write(&format!("priv/repo/migrations/{name}"), &text);
        names.push(name);
    }
    (app, names)
}

/// True when stderr has `priv/repo/migrations/NAME:LINE: RULE:`.
fn reports(stderr: &str, name: &str, rule: &str) -> bool {
    let prefix = format!("priv/repo/migrations/{name}:");
    stderr.lines().any(|l| {
        l.find(&prefix).is_some_and(|i| {
            let rest = &l[i + prefix.len()..];
            let digits = rest.chars().take_while(char::is_ascii_digit).count();
            digits > 0 && rest[digits..].starts_with(&format!(": {rule}: "))
        })
    })
}

#[test]
fn each_lint_rule_fails_the_check_naming_file_line_and_rule() {
    let _s = serial();
    let cases = rule_cases();
    assert!(cases.len() >= 20, "{cases:?}");
    for (case, rule, args) in cases {
        let (app, names) = with_case(&case, &case_config(&args));
        let done = app.xtask(&["migrate", "check"]).run();
        assert_eq!(done.code, Some(1), "{rule}: {}", done.all());
        for name in &names {
            assert!(
                reports(&done.stderr, name, &rule),
                "{rule}: {name} not reported:\n{}",
                done.stderr
            );
        }
        assert!(
            done.stderr.contains("xtask:allow"),
            "the hint names the allow comment: {}",
            done.stderr
        );
    }
}

#[test]
fn the_allow_comment_silences_exactly_one_finding() {
    let _s = serial();
    let case = root().join("tests/fixtures/migrations/allow");
    let (app, names) = with_case(&case, "");
    let done = app.xtask(&["migrate", "check"]).run();
    assert_eq!(done.code, Some(1), "{}", done.all());
    assert!(
        reports(&done.stderr, &names[0], "column_removed"),
        "{}",
        done.stderr
    );
    assert!(!done.stderr.contains("column_renamed:"), "{}", done.stderr);
    assert!(
        done.stderr.contains("1 unsafe operation(s)"),
        "{}",
        done.stderr
    );
}

/// The demo's `[migrate]` config with its `migrator` line replaced by `line`
/// (empty: the configured commands alone).
fn migrator_line(line: &str) -> String {
    common::demo_migrate_config()
        .lines()
        .map(|l| match l.starts_with("migrator") {
            true => line.to_string(),
            false => format!("{l}\n"),
        })
        .collect()
}

/// The lint's lines in a failed check's output: each finding and the count.
fn lint_lines(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .filter(|l| l.contains("linted ") || l.contains(".exs:") && l.contains(": column_"))
        .map(|l| {
            l.split_once("] ")
                .map_or(l, |(_, rest)| rest)
                .trim()
                .to_string()
        })
        .collect()
}

#[test]
fn the_lint_says_the_same_in_the_session_and_alone_beside_the_apps_own_commands() {
    let _s = serial();
    let case = root().join("tests/fixtures/migrations/allow");
    // In the one-boot session (the demo's migrator)...
    let (app, _) = with_case(&case, "");
    let session = app.xtask(&["migrate", "check", "-v"]).run();
    assert_eq!(session.code, Some(1), "{}", session.all());
    // ...and alone in `elixir`, with the configured commands and no migrator.
    let (app, _) = with_case(&case, &migrator_line(""));
    let alone = app.xtask(&["migrate", "check", "-v"]).run();
    assert_eq!(alone.code, Some(1), "{}", alone.all());
    assert!(
        alone
            .stderr
            .contains("elixir _build/xtask/migration_lint.exs"),
        "{}",
        alone.stderr
    );
    let got = lint_lines(&session.stderr);
    assert!(
        got.iter().any(|l| l == "linted 4 files (1 allowed)"),
        "{got:#?}\n{}",
        session.stderr
    );
    assert!(
        got.iter().any(|l| l.contains(": column_removed: ")),
        "{got:#?}"
    );
    assert_eq!(got, lint_lines(&alone.stderr));
    // ...and when the session cannot start (here a migrator module the app
    // lacks), the lint still tells its findings, alone, and the step fails
    // on the session.
    let broken = migrator_line("migrator = \"Demo.NoSuchMigrator\"\n");
    let (app, _) = with_case(&case, &broken);
    let unstarted = app.xtask(&["migrate", "check", "-v"]).run();
    assert_eq!(unstarted.code, Some(1), "{}", unstarted.all());
    assert!(
        unstarted
            .stderr
            .contains("the migrate session did not start: the lint runs alone"),
        "{}",
        unstarted.stderr
    );
    assert_eq!(got, lint_lines(&unstarted.stderr));
}
