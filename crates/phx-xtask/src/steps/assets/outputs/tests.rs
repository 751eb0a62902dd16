//! Table tests of the outputs read from phx.new 1.7 and 1.8 apps' config,
//! and from the shapes teams change them into.

use super::*;

/// The asset profiles of `config/config.exs` as phx.new 1.8 writes them.
const CONFIG_18: &str = r##"import Config

config :shop, Shop.Mailer, adapter: Swoosh.Adapters.Local

# Configure esbuild (the version is required)
config :esbuild,
  version: "0.25.4",
  shop: [
    args:
      ~w(js/app.js --bundle --target=es2022 --outdir=../priv/static/assets/js --external:/fonts/* --external:/images/* --alias:@=.),
    cd: Path.expand("../assets", __DIR__),
    env: %{"NODE_PATH" => [Path.expand("../deps", __DIR__), Mix.Project.build_path()]}
  ]

# Configure tailwind (the version is required)
config :tailwind,
  version: "4.1.12",
  shop: [
    args: ~w(
      --input=assets/css/app.css
      --output=priv/static/assets/css/app.css
    ),
    cd: Path.expand("..", __DIR__),
  ]

import_config "#{config_env()}.exs"
"##;

/// The same as phx.new 1.7 writes them.
const CONFIG_17: &str = r#"import Config

config :esbuild,
  version: "0.17.11",
  shop: [
    args:
      ~w(js/app.js --bundle --target=es2017 --outdir=../priv/static/assets --external:/fonts/* --external:/images/*),
    cd: Path.expand("../assets", __DIR__),
    env: %{"NODE_PATH" => Path.expand("../deps", __DIR__)}
  ]

config :tailwind,
  version: "3.4.3",
  shop: [
    args: ~w(
      --config=tailwind.config.js
      --input=css/app.css
      --output=../priv/static/assets/app.css
    ),
    cd: Path.expand("../assets", __DIR__)
  ]
"#;

const MIX_EXS: &str = r#"defmodule Shop.MixProject do
  defp aliases do
    [
      "assets.build": ["compile", "tailwind shop", "esbuild shop"],
      "assets.deploy": ["tailwind shop --minify", "esbuild shop --minify", "phx.digest"]
    ]
  end
end
"#;

fn app(config: &str, mix_exs: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("config")).unwrap();
    std::fs::write(dir.path().join("config/config.exs"), config).unwrap();
    std::fs::write(dir.path().join("mix.exs"), mix_exs).unwrap();
    dir
}

fn paths(found: &Found) -> Vec<String> {
    found
        .outputs
        .iter()
        .map(|o| o.path.display().to_string())
        .collect()
}

#[test]
fn phoenix_1_8_writes_css_and_js_subdirs() {
    let dir = app(CONFIG_18, MIX_EXS);
    let found = find(dir.path(), "shop", &[], "assets.deploy");
    assert_eq!(
        paths(&found),
        [
            "priv/static/assets/js/app.js",
            "priv/static/assets/css/app.css"
        ]
    );
    assert_eq!(
        found.outputs[0].from,
        "the esbuild profile `shop` in config/config.exs (--outdir=../priv/static/assets/js, run in assets/)"
    );
    assert_eq!(
        found.outputs[1].from,
        "the tailwind profile `shop` in config/config.exs (--output=priv/static/assets/css/app.css, run in the app dir)"
    );
    assert!(found.unread.is_empty(), "{:?}", found.unread);
}

#[test]
fn phoenix_1_7_writes_both_into_assets() {
    let dir = app(CONFIG_17, MIX_EXS);
    let found = find(dir.path(), "shop", &[], "assets.deploy");
    assert_eq!(
        paths(&found),
        ["priv/static/assets/app.js", "priv/static/assets/app.css"]
    );
}

#[test]
fn only_the_profiles_the_deploy_runs_count_through_nested_aliases() {
    let config = format!(
        "{CONFIG_17}\nconfig :tailwind, storybook: [args: ~w(--input=css/s.css --output=../priv/static/s.css), cd: Path.expand(\"../assets\", __DIR__)]\n"
    );
    let mix_exs = MIX_EXS.replace(
        r#""assets.deploy": ["tailwind shop --minify", "esbuild shop --minify", "phx.digest"]"#,
        r#""assets.deploy": ["assets.build", "phx.digest"]"#,
    );
    let found = find(app(&config, &mix_exs).path(), "shop", &[], "assets.deploy");
    assert_eq!(
        paths(&found),
        ["priv/static/assets/app.js", "priv/static/assets/app.css"]
    );
    // A deploy that runs no tailwind profile still owes the app's own.
    let no_css = MIX_EXS.replace(r#""tailwind shop --minify", "#, "");
    let found = find(app(&config, &no_css).path(), "shop", &[], "assets.deploy");
    assert_eq!(
        paths(&found),
        ["priv/static/assets/app.js", "priv/static/assets/app.css"]
    );
    // An alias that cannot be read leaves every profile in.
    let found = find(
        app(&config, "defmodule X do end").path(),
        "shop",
        &[],
        "assets.deploy",
    );
    assert_eq!(paths(&found).len(), 3);
}

#[test]
fn configured_outputs_join_the_profiles_and_are_validated() {
    let dir = app(CONFIG_18, MIX_EXS);
    let extra = [
        PathBuf::from("priv/static/assets/js/app.js"),
        PathBuf::from("priv/static/assets/admin.js"),
    ];
    let found = find(dir.path(), "shop", &extra, "assets.deploy");
    assert_eq!(paths(&found).len(), 3);
    assert_eq!(found.outputs[2].from, "[assets] outputs in xtask.toml");
    assert!(validate(&extra).is_ok());
    for bad in ["/srv/app.js", "../app.js", ""] {
        let err = validate(&[PathBuf::from(bad)]).unwrap_err().to_string();
        assert!(
            err.contains("must be a file path relative to the app dir"),
            "{err}"
        );
    }
}

#[test]
fn esbuild_entry_points_land_below_their_common_dir() {
    let args = |s: &str| s.split_whitespace().map(String::from).collect::<Vec<_>>();
    let (files, _) = esbuild(&args("js/app.js css/app.css --bundle --outdir=out")).unwrap();
    assert_eq!(files, ["out/js/app.js", "out/css/app.css"]);
    let (files, _) = esbuild(&args(
        "js/app.js css/app.css --entry-names=[name] --outdir=out",
    ))
    .unwrap();
    assert_eq!(files, ["out/app.js", "out/app.css"]);
    let (files, _) = esbuild(&args(
        "admin=js/admin.ts --outdir=out --out-extension:.js=.mjs",
    ))
    .unwrap();
    assert_eq!(files, ["out/admin.mjs"]);
    let (files, flag) = esbuild(&args("js/app.js --outfile=../priv/app.js")).unwrap();
    assert_eq!(
        (files, flag.as_str()),
        (
            vec!["../priv/app.js".to_string()],
            "--outfile=../priv/app.js"
        )
    );
    assert!(esbuild(&args("js/app.js --bundle"))
        .unwrap_err()
        .contains("stdout"));
    assert!(esbuild(&args("a.js --entry-names=[name]-[hash] --outdir=o")).is_err());
}

#[test]
fn a_profile_that_is_not_literal_is_named_not_guessed() {
    let config = r#"config :tailwind, shop: [args: ~w(--input=css/app.css --output=#{out}), cd: Path.expand("../assets", __DIR__)]
config :esbuild, shop: [args: ~w(js/app.js --outdir=x), cd: Application.app_dir(:shop)]"#;
    let found = find(app(config, MIX_EXS).path(), "shop", &[], "assets.deploy");
    assert!(found.outputs.is_empty());
    assert_eq!(
        found.unread,
        [
            "the esbuild profile `shop` (its cd is not a literal path)",
            "the tailwind profile `shop` (its args are not a literal list)"
        ]
    );
    let (files, flag) =
        tailwind(&["-i".into(), "a.css".into(), "-o".into(), "b.css".into()]).unwrap();
    assert_eq!(
        (files, flag.as_str()),
        (vec!["b.css".to_string()], "-o b.css")
    );
}
