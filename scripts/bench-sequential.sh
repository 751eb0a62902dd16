#!/usr/bin/env bash
# The baseline for scripts/bench.sh: the steps `cargo xtask ci` runs on the
# demo (or the phx18 fixture), one after another in the recipe's order, as a plain CI script would,
# against the Postgres and Redis in DATABASE_URL and REDIS_URL (a CI job's
# service containers).
# Usage: scripts/bench-sequential.sh APP_DIR PLT_FILE ELIXIR_LIB_DIR [OTP_APP]
# (OTP_APP, the app's name in _build, defaults to demo; an app with no
# assets/package.json has no npm part, as phx.new 1.8's has none)
# (a plain CI script would have the path written in, so it is not looked up
# inside the timed run).
set -euo pipefail
app=$1 plt=$2 elixir_lib=$3 otp_app=${4:-demo}
cd "$app"
mix deps.get
mix deps.compile
mix format --check-formatted
mix compile --warnings-as-errors
dialyzer --no_check_plt --fullpath --no_indentation -pa "$elixir_lib/elixir/ebin" --plt "$plt" "_build/dev/lib/$otp_app/ebin"
if [ -f assets/package.json ]; then
  (cd assets && npm ci && npm run lint && npm test && npm run build)
fi
mix assets.deploy
find priv/static/assets -name 'app*.js' -size +0 | grep -q . && find priv/static/assets -name 'app*.css' -size +0 | grep -q .
MIX_ENV=test mix compile --warnings-as-errors
rm -f cover/*.coverdata
MIX_ENV=test mix test --cover --export-coverage suite
MIX_ENV=test mix test.coverage
