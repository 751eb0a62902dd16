#!/usr/bin/env bash
# Deploy figures for docs/benchmarks.md, on this machine (loopback only,
# bounded): (1) the docker target end to end, from tests/deploy.rs run with
# --nocapture: requests served and failed through nginx during a deploy, a
# failed deploy and a rollback, and each release's time from start to
# passing the gate; (2) the gate's reaction time: a stand-in app turns
# healthy 3 s after the deploy starts, and the gate's "healthy after" minus
# those 3 s is how late the gate noticed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

echo "== docker target (tests/deploy.rs)"
cargo test -q -p xtask --test deploy docker_deploys -- --nocapture 2>&1 | grep '^FIGURE' || true

echo "== gate reaction (fly target, stand-in flyctl, app healthy after 3 s)"
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf '#!/bin/sh\nexit 0\n' >"$work/flyctl"; chmod +x "$work/flyctl"
cat >"$work/xtask.toml" <<EOT
app_dir = "$PWD/demo"
[deploy.bench]
target = "fly"
app = "bench"
url = "http://127.0.0.1:$port"
timeout = 20
EOT
git -C demo rev-parse HEAD >/dev/null
for round in 1 2 3 4 5; do
  rm -f "$work/healthy"
  python3 - "$port" "$work/healthy" <<'PY' &
import http.server, os, sys, threading, time
port, flag = int(sys.argv[1]), sys.argv[2]
threading.Timer(3.0, lambda: open(flag, "w").close()).start()
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if os.path.exists(flag) else 503); self.end_headers(); self.wfile.write(b"ok")
    def log_message(self, *a): pass
srv = http.server.HTTPServer(("127.0.0.1", port), H)
threading.Timer(15, srv.shutdown).start()
srv.serve_forever()
PY
  sleep 0.2
  out=$(PATH="$work:$PATH" FLY_API_TOKEN=bench XTASK_CONFIG="$work/xtask.toml" cargo xtask deploy bench --image bench:1 2>&1 || true)
  healthy=$(printf '%s\n' "$out" | sed -n 's/.*healthy after \([0-9.]*\) s.*/\1/p' | tail -1)
  python3 -c "print(f'round $round: healthy after $healthy s, reaction {float(\"$healthy\") - 3.0 + 0.2:.2f} s')"
  wait
done
