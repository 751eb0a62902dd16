//! `cargo xtask migrate check` at scale and by scope, end to end on copies
//! of the demo against a real Postgres: 100 generated migrations linted
//! and checked in ONE BEAM boot (counted by `mix`/`elixir` wrappers on PATH),
//! an irreversible migration among many named with its diff and no
//! neighbour blamed, ecto_sql's safe-migrations foreign-key pair passing
//! while a down that drops another constraint fails, and the default scope:
//! a migration already on the default branch is migrated but neither
//! checked nor linted, `--all` checks it.

mod common;

use std::path::{Path, PathBuf};
use std::time::Instant;

use common::{serial, sh, App, Done};

/// The demo's newest migration: generated ones come after it.
const BASE: u64 = 20260101000000;

fn version(i: u64) -> u64 {
    BASE + i * 100
}

/// Migration `i` of a generated history: a table, a column or an index in turn.
fn generated(i: u64) -> (String, String) {
    let t = i / 3 * 3;
    let (name, up, down) = match i % 3 {
        0 => (
            format!("create_t{i}"),
            format!("CREATE TABLE t{i} (id bigserial PRIMARY KEY, name varchar(255) NOT NULL)"),
            format!("DROP TABLE t{i}"),
        ),
        1 => (
            format!("add_t{t}_note"),
            format!("ALTER TABLE t{t} ADD COLUMN note text DEFAULT 'n' NOT NULL"),
            format!("ALTER TABLE t{t} DROP COLUMN note"),
        ),
        _ => (
            format!("add_t{t}_name_index"),
            format!("CREATE INDEX t{t}_name_index ON t{t} (name)"),
            format!("DROP INDEX t{t}_name_index"),
        ),
    };
    (name, migration(i, &up, &down))
}

fn migration(i: u64, up: &str, down: &str) -> String {
    format!(
        "# Migration {i} of a generated history.\n\
         defmodule Demo.Repo.Migrations.Generated{i} do\n\
         \x20 def up, do: [{up:?}]\n\
         \x20 def down, do: [{down:?}]\n\
         end\n"
    )
}

fn file(i: u64, name: &str) -> String {
    format!("{}_{name}.exs", version(i))
}

/// A copy of the demo with n migrations generated after its own (0..n).
fn with_generated(n: u64) -> App {
    let app = App::demo_copy();
    for i in 0..n {
        let (name, text) = generated(i);
        app.write(&format!("priv/repo/migrations/{}", file(i, &name)), &text);
    }
    app
}

/// `mix` and `elixir` wrappers that log each start, as scripts/bench.sh
/// counts boots (the `elixir` that `mix` runs is not counted twice). They
/// sit in a bin/ beside a link to Elixir's lib, as in an Elixir install,
/// so xtask still reads the versions from files.
struct Boots {
    dir: tempfile::TempDir,
}

impl Boots {
    fn new() -> Boots {
        let dir = tempfile::tempdir().unwrap();
        let lib = sh(
            dir.path(),
            "elixir -e 'IO.write(Path.dirname(:code.lib_dir(:elixir)))'",
        );
        std::os::unix::fs::symlink(lib.trim(), dir.path().join("lib")).unwrap();
        std::fs::create_dir(dir.path().join("bin")).unwrap();
        for p in ["mix", "elixir"] {
            let wrapper = dir.path().join("bin").join(p);
            std::fs::write(
                &wrapper,
                "#!/bin/sh\nPATH=$BOOTS_REAL_PATH\necho \"$(basename \"$0\") $*\" >>\"$BOOTS_LOG\"\n\
                 exec \"$(basename \"$0\")\" \"$@\"\n",
            )
            .unwrap();
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        Boots { dir }
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("boots.log")
    }

    fn run(&self, run: common::Run) -> Done {
        let _ = std::fs::remove_file(self.log());
        let path = std::env::var("PATH").unwrap();
        let bin = self.dir.path().join("bin");
        run.env("PATH", &format!("{}:{path}", bin.display()))
            .env("BOOTS_REAL_PATH", &path)
            .env("BOOTS_LOG", self.log().to_str().unwrap())
            .run()
    }

    fn started(&self) -> Vec<String> {
        let text = std::fs::read_to_string(self.log()).unwrap_or_default();
        text.lines().map(String::from).collect()
    }
}

fn reversible(done: &Done) -> usize {
    done.stderr
        .lines()
        .filter(|l| l.contains(".exs: reversible"))
        .count()
}

#[test]
fn a_hundred_migrations_are_linted_and_checked_in_one_boot() {
    let _s = serial();
    let app = with_generated(100);
    // The deps are fetched beforehand, as in `ci` (its deps step).
    let deps = app.xtask(&["deps"]).run();
    assert_eq!(deps.code, Some(0), "{}", deps.all());
    let boots = Boots::new();
    let started = Instant::now();
    let done = boots.run(app.xtask(&["migrate", "check", "--all", "-v"]));
    eprintln!(
        "migrate check --all on 103 migrations: {:.1} s, boots: {:?}",
        started.elapsed().as_secs_f64(),
        boots.started()
    );
    let timeline = done.stderr.lines().find(|l| l.contains(" s in all: "));
    eprintln!("{}", timeline.unwrap_or("(no timeline)"));
    assert_eq!(done.code, Some(0), "{}", done.all());
    assert_eq!(reversible(&done), 103, "{}", done.stderr);
    // The lint ran in the session: every file read, no `elixir` of its own.
    assert!(done.stderr.contains("linted 103 files"), "{}", done.stderr);
    let started = boots.started();
    assert_eq!(started.len(), 1, "BEAM boots: {started:#?}");
    assert!(
        started[0].starts_with("mix run --no-start _build/xtask/migration_session.exs"),
        "{started:#?}"
    );
}

#[test]
fn an_irreversible_migration_among_many_is_named_with_its_diff() {
    let _s = serial();
    let app = with_generated(30);
    // Migration 16 adds t15's note; its down drops t12's instead.
    let (name, _) = generated(16);
    assert_eq!(name, "add_t15_note");
    app.write(
        &format!("priv/repo/migrations/{}", file(16, &name)),
        &migration(
            16,
            "ALTER TABLE t15 ADD COLUMN note text DEFAULT 'n' NOT NULL",
            "ALTER TABLE t12 DROP COLUMN note",
        ),
    );
    let done = app.xtask(&["migrate", "check"]).run();
    assert_eq!(done.code, Some(1), "{}", done.all());
    let bad = file(16, "add_t15_note");
    assert!(
        done.stderr.contains(&format!("{bad} is not reversible")),
        "{}",
        done.stderr
    );
    // `-` before its up, `+` after its down: t12 lost its note, t15 kept one.
    assert!(
        done.stderr
            .contains("- column t12.note text NOT NULL DEFAULT 'n'::text"),
        "{}",
        done.stderr
    );
    assert!(
        done.stderr
            .contains("+ column t15.note text NOT NULL DEFAULT 'n'::text"),
        "{}",
        done.stderr
    );
    // Newest first: 17 went down well, 16 is named, 15 was never blamed.
    let ok = format!("{}: reversible", file(17, "add_t15_name_index"));
    assert!(done.stderr.contains(&ok), "{}", done.stderr);
    assert_eq!(
        done.stderr.matches("is not reversible").count(),
        1,
        "{}",
        done.stderr
    );
    assert!(
        !done.stderr.contains(&file(15, "create_t15")),
        "{}",
        done.stderr
    );
}

/// The demo's products table gets an owner, as ecto_sql's safe-migrations
/// guide adds a foreign key: `validate: false` in one migration, then
/// `VALIDATE CONSTRAINT` with an empty down in the next.
fn with_fk_pair(validate_down: &str) -> App {
    let app = App::demo_copy();
    let owners = "CREATE TABLE owners (id bigserial PRIMARY KEY)";
    let column = "ALTER TABLE products ADD COLUMN owner_id bigint";
    let fk = "ALTER TABLE products ADD CONSTRAINT products_owner_id_fkey \
              FOREIGN KEY (owner_id) REFERENCES owners(id) NOT VALID";
    let texts = [
        (
            1,
            "create_owners",
            format!("[{owners:?}, {column:?}, {fk:?}]"),
            "[\"ALTER TABLE products DROP COLUMN owner_id\", \"DROP TABLE owners\"]".to_string(),
        ),
        (
            2,
            "validate_products_owner_id_fkey",
            "[\"ALTER TABLE products VALIDATE CONSTRAINT products_owner_id_fkey\"]".to_string(),
            validate_down.to_string(),
        ),
    ];
    for (i, name, up, down) in texts {
        app.write(
            &format!("priv/repo/migrations/{}", file(i, name)),
            &format!(
                "# Migration {i}: {name}.\ndefmodule Demo.Repo.Migrations.Fk{i} do\n\
                 \x20 def up, do: {up}\n  def down, do: {down}\nend\n"
            ),
        );
    }
    app
}

#[test]
fn the_guides_foreign_key_pair_passes_and_a_down_dropping_another_constraint_fails() {
    let _s = serial();
    let done = with_fk_pair("\"\"").xtask(&["migrate", "check"]).run();
    assert_eq!(done.code, Some(0), "{}", done.all());
    assert!(
        done.stderr.contains(&format!(
            "{}: reversible (it only validates constraints",
            file(2, "validate_products_owner_id_fkey")
        )),
        "{}",
        done.stderr
    );

    let down = "\"ALTER TABLE products DROP CONSTRAINT price_cents_not_negative\"";
    let done = with_fk_pair(down).xtask(&["migrate", "check"]).run();
    assert_eq!(done.code, Some(1), "{}", done.all());
    assert!(
        done.stderr.contains(&format!(
            "{} is not reversible",
            file(2, "validate_products_owner_id_fkey")
        )),
        "{}",
        done.stderr
    );
    assert!(
        done.stderr
            .contains("- constraint products.price_cents_not_negative: CHECK"),
        "{}",
        done.stderr
    );
}

fn git(dir: &Path, script: &str) {
    sh(dir, script);
}

#[test]
fn a_migration_on_the_default_branch_is_migrated_but_only_checked_with_all() {
    let _s = serial();
    let app = App::demo_copy();
    // On main: an irreversible migration, which ran in production long ago.
    let old = file(1, "add_products_color");
    app.write(
        &format!("priv/repo/migrations/{old}"),
        &migration(1, "ALTER TABLE products ADD COLUMN color text", "SELECT 1"),
    );
    git(
        &app.dir(),
        "git init -q -b main && git add priv && git commit -qm main",
    );
    git(&app.dir(), "git checkout -q -b feature");
    let new = file(2, "add_products_size");
    app.write(
        &format!("priv/repo/migrations/{new}"),
        &migration(
            2,
            "ALTER TABLE products ADD COLUMN size integer",
            "ALTER TABLE products DROP COLUMN size",
        ),
    );

    let done = app.xtask(&["migrate", "check"]).run();
    assert_eq!(done.code, Some(0), "{}", done.all());
    assert!(
        done.stderr.contains("merge base with main"),
        "{}",
        done.stderr
    );
    assert!(
        done.stderr.contains(&format!("{new}: reversible")),
        "{}",
        done.stderr
    );
    assert_eq!(reversible(&done), 1, "{}", done.stderr);
    assert!(done.stderr.contains("linted 1 files"), "{}", done.stderr);

    let done = app.xtask(&["migrate", "check", "--all"]).run();
    assert_eq!(done.code, Some(1), "{}", done.all());
    assert!(
        done.stderr.contains(&format!("{old} is not reversible")),
        "{}",
        done.stderr
    );
    assert!(
        done.stderr.contains("+ column products.color text"),
        "{}",
        done.stderr
    );
}

/// An index on products.COLUMN in Ecto's words (`create index(…)`, what the
/// lint reads), over the demo's SQL migrator (the private helpers turn the
/// words into the SQL it runs).
fn ecto_shaped_index(i: u64, column: &str) -> String {
    format!(
        "# Migration {i}: indexes products.{column}.\n\
         defmodule Demo.Repo.Migrations.Index{i} do\n\
         \x20 def up do\n\
         \x20   create index(:products, [:{column}])\n\
         \x20 end\n\n\
         \x20 def down, do: [\"DROP INDEX products_{column}_index\"]\n\n\
         \x20 defp create(sql), do: [sql]\n\
         \x20 defp index(table, [c]), do: \"CREATE INDEX #{{table}}_#{{c}}_index ON #{{table}} (#{{c}})\"\n\
         end\n"
    )
}

/// True when stderr has `priv/repo/migrations/NAME:4: RULE:` (line 4 is
/// the `create index` of `ecto_shaped_index`).
fn flagged(stderr: &str, name: &str) -> bool {
    stderr.contains(&format!(
        "priv/repo/migrations/{name}:4: index_not_concurrently:"
    ))
}

#[test]
fn after_init_an_old_unsafe_migration_passes_and_a_new_one_fails_naming_file_and_line() {
    // `init` checks what it wrote with `cargo metadata`.
    if !common::cargo_here("after_init_…_naming_file_and_line") {
        return;
    }
    let _s = serial();
    let app = App::demo_copy();
    let old = file(1, "add_products_name_index");
    app.write(
        &format!("priv/repo/migrations/{old}"),
        &ecto_shaped_index(1, "name"),
    );
    std::fs::remove_file(app.config()).unwrap();
    let repo = app.tmp.path().to_str().unwrap();
    let init = common::xtask(&["init", "--repo", repo])
        .env("CARGO_NET_OFFLINE", "true")
        .run();
    assert_eq!(init.code, Some(0), "{}", init.all());
    let said = format!("set [migrate] lint_after = \"{}\"", version(1));
    assert!(init.stderr.contains(&said), "{}", init.stderr);
    let written = std::fs::read_to_string(app.config()).unwrap();
    assert!(
        written.contains(&format!("[migrate]\nlint_after = \"{}\"", version(1))),
        "{written}"
    );
    // The demo migrates with its own commands (it has no Ecto): added to
    // the [migrate] section init wrote.
    let merged = written.replace("[migrate]\n", &common::demo_migrate_config());
    std::fs::write(app.config(), merged).unwrap();

    let done = app.xtask(&["migrate", "check"]).run();
    assert_eq!(done.code, Some(0), "{}", done.all());
    assert!(
        done.stderr
            .contains("linted 0 files (4 at or before [migrate] lint_after skipped)"),
        "{}",
        done.stderr
    );

    let new = file(2, "add_products_price_cents_index");
    app.write(
        &format!("priv/repo/migrations/{new}"),
        &ecto_shaped_index(2, "price_cents"),
    );
    let done = app.xtask(&["migrate", "check"]).run();
    assert_eq!(done.code, Some(1), "{}", done.all());
    assert!(flagged(&done.stderr, &new), "{}", done.stderr);
    assert!(!flagged(&done.stderr, &old), "{}", done.stderr);
}

#[test]
fn by_default_only_the_branchs_migrations_are_linted_and_the_fix_names_lint_after() {
    let _s = serial();
    let app = App::demo_copy();
    let old = file(1, "add_products_name_index");
    app.write(
        &format!("priv/repo/migrations/{old}"),
        &ecto_shaped_index(1, "name"),
    );
    git(
        &app.dir(),
        "git init -q -b main && git add priv && git commit -qm main && git checkout -q -b feature",
    );
    let new = file(2, "add_products_price_cents_index");
    app.write(
        &format!("priv/repo/migrations/{new}"),
        &ecto_shaped_index(2, "price_cents"),
    );

    let done = app.xtask(&["migrate", "check"]).run();
    assert_eq!(done.code, Some(1), "{}", done.all());
    assert!(flagged(&done.stderr, &new), "{}", done.stderr);
    assert!(!flagged(&done.stderr, &old), "{}", done.stderr);

    // With --all the old one is flagged too, and the fix names lint_after
    // with the newest migration at or before the merge base.
    let done = app.xtask(&["migrate", "check", "--all"]).run();
    assert_eq!(done.code, Some(1), "{}", done.all());
    assert!(
        flagged(&done.stderr, &old) && flagged(&done.stderr, &new),
        "{}",
        done.stderr
    );
    let fix = format!("set `lint_after = \"{}\"` under [migrate]", version(1));
    assert!(done.stderr.contains(&fix), "{}", done.stderr);
}
