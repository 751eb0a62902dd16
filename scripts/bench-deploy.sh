#!/usr/bin/env bash
# Deploy figures for docs/benchmarks.md, on this machine (loopback only,
# bounded): (1) the docker target end to end, from tests/deploy.rs run with
# --nocapture, and the same over two ssh hosts from tests/deploy_hosts.rs:
# requests served and failed through each proxy during a deploy, a
# failed deploy and a rollback, and each release's time from start to
# passing the gate; (2) the gate's reaction time: a stand-in app turns
# healthy 3 s after the deploy starts, and the gate's "healthy after" minus
# those 3 s is how late the gate noticed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

echo "== docker target, one unix:// host (tests/deploy.rs)"
cargo test -q -p xtask --test deploy docker_deploys -- --nocapture 2>&1 | grep -o 'FIGURE.*' || true

echo "== docker target, two ssh:// hosts, each its own dockerd behind its own sshd (tests/deploy_hosts.rs)"
cargo test -q -p xtask --test deploy_hosts -- --nocapture 2>&1 | grep -o 'FIGURE.*' || true

echo "== gate reaction (fly target, stand-in flyctl, the app turns healthy 3 s in)"
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
# The app records when it turned healthy and when the gate first saw it:
# the difference is how late the gate noticed.
cat >"$work/app.py" <<'PY'
import http.server, sys, threading, time
port, out = int(sys.argv[1]), sys.argv[2]
state = {"healthy": None, "seen": None}
def turn(): state["healthy"] = time.monotonic()
threading.Timer(3.0, turn).start()
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        ok = state["healthy"] is not None
        if ok and state["seen"] is None:
            state["seen"] = time.monotonic()
            open(out, "w").write(f"{state['seen'] - state['healthy']:.3f}\n")
        self.send_response(200 if ok else 503); self.end_headers(); self.wfile.write(b"ok")
    def log_message(self, *a): pass
srv = http.server.HTTPServer(("127.0.0.1", port), H)
threading.Timer(12, srv.shutdown).start()
srv.serve_forever()
PY
for round in 1 2 3 4 5 6 7 8; do
  rm -f "$work/reaction"
  python3 "$work/app.py" "$port" "$work/reaction" &
  sleep 0.1
  PATH="$work:$PATH" FLY_API_TOKEN=bench XTASK_CONFIG="$work/xtask.toml" cargo xtask deploy bench --image bench:1 >/dev/null 2>&1 || true
  wait
  echo "round $round: the gate saw the app healthy $(cat "$work/reaction" 2>/dev/null || echo '?') s after it was"
done
