//! The apps Phoenix teams really have: the esbuild/tailwind hex-assets
//! layout (no package.json), an umbrella, `MIX_ENV=test` exported, and a
//! machine whose stand-in images are recorded in xtask.local.toml.

mod common;

use std::path::{Path, PathBuf};

use common::{copy_tree, root, serial, xtask, App, IMAGES};

/// A copy of `tests/fixtures/<name>` beside the stand-ins its path deps
/// name (`../stand_ins/`), and an xtask.toml pointing at it.
fn fixture(name: &str, extra: &str) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::Builder::new()
        .prefix("phx-xtask-fit-")
        .tempdir()
        .unwrap();
    for dir in [name, "stand_ins"] {
        copy_tree(
            &root().join("tests/fixtures").join(dir),
            &tmp.path().join(dir),
        );
    }
    let config = tmp.path().join("xtask.toml");
    std::fs::write(&config, format!("app_dir = \"{name}\"\n{extra}")).unwrap();
    (tmp, config)
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn the_hex_assets_layout_installs_deploys_and_checks_the_digest() {
    let _s = serial();
    let (tmp, config) = fixture("hex_assets", "");
    let app = tmp.path().join("hex_assets");
    let run = || {
        xtask(&["assets", "--output", "plain"])
            .env("XTASK_CONFIG", config.to_str().unwrap())
            .run()
    };
    let done = run();
    assert_eq!(done.code, Some(0), "{}", done.all());
    assert!(
        done.row("assets")
            .contains("layout: esbuild/tailwind hex packages"),
        "{}",
        done.row("assets")
    );
    assert!(
        done.stderr.contains("[assets] $ mix assets.setup\n"),
        "{}",
        done.stderr
    );
    let build = files_in(&app.join("_build"));
    assert!(build.iter().any(|f| f.starts_with("esbuild-")), "{build:?}");
    assert!(
        build.iter().any(|f| f.starts_with("tailwind-")),
        "{build:?}"
    );
    // The bundles the 1.7 profiles write are the row's figures; every file
    // the manifest names was checked, and none of them is in the row.
    let manifest = std::fs::read_to_string(app.join("priv/static/cache_manifest.json")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&manifest).unwrap();
    let named = json["latest"].as_object().unwrap().len() * 2;
    assert!(
        done.stderr.contains(&format!(
            "priv/static/cache_manifest.json names {named} files; 0 missing or empty"
        )),
        "{}",
        done.stderr
    );
    let row = done.row("assets");
    assert!(row.contains("app.css ") && row.contains("app.js "), "{row}");
    assert!(!row.contains("app-") && !row.contains("robots"), "{row}");

    // Installed once: the next run skips the setup.
    let again = run();
    assert_eq!(again.code, Some(0), "{}", again.all());
    assert!(
        again
            .stderr
            .contains("(skipped: esbuild and tailwind installed in _build)"),
        "{}",
        again.stderr
    );

    // An output the deploy does not write fails the step, naming it.
    std::fs::write(
        &config,
        "app_dir = \"hex_assets\"\n[assets]\noutputs = [\"priv/static/assets/admin.js\"]\n",
    )
    .unwrap();
    let broken = run();
    assert_eq!(broken.code, Some(1), "{}", broken.all());
    assert!(
        broken.stderr.contains(
            "priv/static/assets/admin.js is missing: [assets] outputs in xtask.toml should have written it"
        ),
        "{}",
        broken.stderr
    );

    // A deploy alias that forgot tailwind: its profile's output is missing,
    // named with the profile that should have written it and where.
    std::fs::write(&config, "app_dir = \"hex_assets\"\n").unwrap();
    std::fs::remove_dir_all(app.join("priv/static/assets")).unwrap();
    let mix_exs = std::fs::read_to_string(app.join("mix.exs")).unwrap();
    let forgot = mix_exs.replace("\"tailwind hex_assets --minify\",", "");
    assert_ne!(forgot, mix_exs);
    std::fs::write(app.join("mix.exs"), forgot).unwrap();
    let broken = run();
    assert_eq!(broken.code, Some(1), "{}", broken.all());
    assert!(
        broken.stderr.contains(
            "priv/static/assets/app.css is missing: the tailwind profile `hex_assets` in \
             config/config.exs (--output=../priv/static/assets/app.css, run in assets/) should \
             have written it"
        ),
        "{}",
        broken.stderr
    );
}

#[test]
fn a_phoenix_1_8_app_passes_ci_with_require_all() {
    let _s = serial();
    // No hex: credo, sobelow, gettext, ex_doc, mix_audit and ecto's
    // migrations cannot be dependencies, so `ci` runs every other step, each
    // of which must pass.
    let steps = [
        "deps", "format", "compile", "xref", "dialyzer", "assets", "test",
    ];
    let extra = format!(
        "[ci]\nsteps = {steps:?}\n[dialyzer]\nplt_dir = \"{}\"\n",
        common::shared_plt_dir().display()
    );
    let (tmp, config) = fixture("phx18", &extra);
    let app = tmp.path().join("phx18");
    // The app has no repo and no Redis: the suite needs no services, so a
    // dead docker daemon does not matter.
    let done = xtask(&["ci", "--require-all", "--output", "json"])
        .env("XTASK_CONFIG", config.to_str().unwrap())
        .env("DOCKER_HOST", "unix:///nonexistent.sock")
        .run();
    assert_eq!(done.code, Some(0), "{}", done.all());
    assert!(
        done.stderr
            .contains("[test] # skip postgres and redis: the app has no `ecto_repos`")
            && !done.stderr.contains("start postgres"),
        "{}",
        done.stderr
    );
    let report: serde_json::Value = serde_json::from_str(done.stdout.trim()).unwrap();
    let rows = report["steps"].as_array().unwrap();
    let names: Vec<&str> = rows.iter().map(|s| s["step"].as_str().unwrap()).collect();
    assert_eq!(names, steps);
    for s in rows {
        assert_eq!(s["status"], "ok", "{s}");
    }
    // The 1.8 layout, read from the app's profiles: the row names the two
    // bundles with their sizes, not the digested copies.
    let assets = &rows[5]["figures"]["outputs"];
    let bundles: Vec<&String> = assets.as_object().unwrap().keys().collect();
    assert_eq!(
        bundles,
        [
            "priv/static/assets/css/app.css",
            "priv/static/assets/js/app.js"
        ]
    );
    let row = done.row("assets");
    assert!(
        row.contains("app.css ") && row.contains(", app.js "),
        "{row}"
    );
    assert!(!row.contains("app-"), "{row}");
    for f in [
        "priv/static/assets/css/app.css",
        "priv/static/assets/js/app.js",
    ] {
        assert!(std::fs::metadata(app.join(f)).unwrap().len() > 0, "{f}");
    }
    // The suite ran with coverage; the generated mailer has a page.
    assert!(
        done.row("test").contains("5 tests, 0 failures"),
        "{}",
        done.row("test")
    );
    assert!(
        done.row("test").contains("coverage 100"),
        "{}",
        done.row("test")
    );
    assert!(app.join("cover/Elixir.Shop.Mailer.html").is_file());
    let lcov = std::fs::read_to_string(app.join("cover/lcov.info")).unwrap();
    assert!(lcov.contains("SF:lib/shop/mailer.ex\n"), "{lcov}");
}

#[test]
fn an_umbrella_is_refused_naming_its_children() {
    let (_tmp, config) = fixture("umbrella", "");
    let done = xtask(&["ci", "--dry-run"])
        .env("XTASK_CONFIG", config.to_str().unwrap())
        .run();
    assert_eq!(done.code, Some(2), "{}", done.all());
    assert!(
        done.stderr.contains("is an umbrella project"),
        "{}",
        done.stderr
    );
    assert!(
        done.stderr.contains("/apps/core") && done.stderr.contains("/apps/web"),
        "{}",
        done.stderr
    );
    assert_eq!(done.stderr.lines().count(), 1, "{}", done.stderr);
}

#[test]
fn with_mix_env_test_exported_the_pipeline_passes_and_dialyzer_analyses_dev() {
    let _s = serial();
    let app = App::demo_copy();
    let done = app
        .xtask(&["ci", "--output", "json"])
        .env("MIX_ENV", "test")
        .run();
    assert_eq!(done.code, Some(0), "{}", done.all());
    assert!(
        done.row("dialyzer").contains("analysed MIX_ENV=dev"),
        "{}",
        done.row("dialyzer")
    );
    assert!(
        done.stderr.contains("[dialyzer] $ MIX_ENV=dev mix compile"),
        "{}",
        done.stderr
    );
    assert!(app.dir().join("_build/dev/lib/demo/ebin").is_dir());
}

#[test]
fn the_local_override_supplies_the_images_with_nothing_exported() {
    let _s = serial();
    let app = App::demo_copy();
    let local = format!(
        "[services]\npostgres_image = \"{}\"\nredis_image = \"{}\"\n",
        IMAGES[0].1, IMAGES[1].1
    );
    std::fs::write(app.tmp.path().join("xtask.local.toml"), local).unwrap();
    let mut run = app.xtask(&["test", "--services", "docker"]);
    for (var, _) in IMAGES {
        run.cmd.env_remove(var);
    }
    let done = run.run();
    assert_eq!(done.code, Some(0), "{}", done.all());
    assert!(
        done.stderr.contains(&format!("postgres ({})", IMAGES[0].1)),
        "{}",
        done.stderr
    );
    // Without it, the official image is asked for, and its absence named.
    std::fs::remove_file(app.tmp.path().join("xtask.local.toml")).unwrap();
    let mut run = app.xtask(&["test", "--services", "docker"]);
    for (var, _) in IMAGES {
        run.cmd.env_remove(var);
    }
    let missing = run.run();
    if missing.code != Some(0) {
        assert!(
            missing.stderr.contains("postgres:16-alpine"),
            "{}",
            missing.stderr
        );
    }
}

#[test]
fn services_for_an_app_without_a_database_start_only_when_asked() {
    // What the test step plans for phx18 (no repo, no Redis): none by
    // default, both with `[test] services = true` or `--services`, none with
    // `false`. Planning probes nothing, so no docker is needed here.
    let plan = |extra: &str, args: &[&str]| {
        let (_tmp, config) = fixture("phx18", extra);
        let mut all = vec!["test", "--dry-run"];
        all.extend(args);
        let done = xtask(&all)
            .env("XTASK_CONFIG", config.to_str().unwrap())
            .run();
        assert_eq!(done.code, Some(0), "{}", done.all());
        done.stdout
    };
    let skipped = "# skip postgres and redis: ";
    let none = plan("", &[]);
    assert!(
        none.contains(&format!("{skipped}the app has no `ecto_repos`"))
            && !none.contains("start postgres")
            && !none.contains("export DATABASE_URL"),
        "{none}"
    );
    let forced = plan("[test]\nservices = true\n", &[]);
    assert!(
        forced.contains("start postgres") && forced.contains("export DATABASE_URL and REDIS_URL"),
        "{forced}"
    );
    let off = plan("[test]\nservices = false\n", &[]);
    assert!(
        off.contains(&format!("{skipped}[test] services = false in xtask.toml")),
        "{off}"
    );
    let asked = plan("[test]\nservices = false\n", &["--services", "native"]);
    assert!(
        asked.contains("start postgres and redis-server as child processes"),
        "{asked}"
    );
}
