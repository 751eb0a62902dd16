#!/usr/bin/env bash
# The baseline for scripts/bench.sh: the steps `cargo xtask ci` runs on the
# demo, one after another in the recipe's order, as a plain CI script would,
# against the Postgres and Redis in DATABASE_URL and REDIS_URL (a CI job's
# service containers).
# Usage: scripts/bench-sequential.sh APP_DIR PLT_FILE ELIXIR_LIB_DIR
# (a plain CI script would have the path written in, so it is not looked up
# inside the timed run).
set -euo pipefail
app=$1 plt=$2 elixir_lib=$3
cd "$app"
mix deps.get
mix deps.compile
mix format --check-formatted
mix compile --warnings-as-errors
dialyzer --no_check_plt --fullpath --no_indentation -pa "$elixir_lib/elixir/ebin" --plt "$plt" "_build/dev/lib/demo/ebin"
(cd assets && npm ci && npm run lint && npm test && npm run build)
mix assets.deploy
test -s priv/static/assets/app.js && test -s priv/static/assets/app.css
MIX_ENV=test mix compile --warnings-as-errors
rm -f cover/*.coverdata
MIX_ENV=test mix test --cover --export-coverage suite
MIX_ENV=test mix test.coverage
