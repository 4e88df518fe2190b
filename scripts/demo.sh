#!/usr/bin/env bash
# The sample project's whole flow, in a fresh folder: init, snapshot a training run, change a
# parameter, snapshot again, log and diff; check new data for drift; then install the git hooks, push code and data, and in
# a teammate's fresh clone pull and reproduce the first experiment; the registry loop CI runs; and last the production
# loop on loopback: serve, monitor, export, retrain, gate, promote, swap. Run it through `make demo`.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
work="${MLV_DEMO_DIR:-$here/build/demo}"
mkdir -p "$(dirname "$work")"
base="$(cd "$(dirname "$work")" && pwd)"  # the demo's remotes and the teammate's clone live beside it
rm -rf "$work" "$base/demo-remote.git" "$base/demo-dvc-store" "$base/demo-clone" "$base/demo-bundle" "$base/demo-gate.md" "$base/demo-prod-profile.json" "$base/demo-report.html"
mkdir -p "$work"
cp "$here"/sample_project/{generate_data.py,train.py,params.yaml} "$work"/
cd "$work"

# Echo each command as a user would type it (arguments with spaces in quotes), then run it.
step() {
  local shown="" arg
  for arg in "$@"; do
    if [[ "$arg" =~ [[:space:]] ]]; then shown+=" \"$arg\""; else shown+=" $arg"; fi
  done
  printf '\n\033[1m$%s\033[0m\n' "$shown"
  "$@"
}

git init -q -b main
git config user.name "mlv demo"
git config user.email "demo@example.com"
python generate_data.py
step mlv init
dvc remote add -q -d store "$base/demo-dvc-store"  # a folder stands in for the team's DVC remote
step git add generate_data.py train.py  # a snapshot commits what git tracks; untracked files are left out
step mlv snapshot --run "python train.py" -m "baseline: test_size 0.25"
sed -i.bak 's/test_size: 0.25/test_size: 0.3/' params.yaml && rm params.yaml.bak
step mlv snapshot --run "python train.py" -m "hold out 30%"
step mlv log
step mlv diff

# Next month's data arrives: shifted, with missing values. `mlv data check` compares it with the
# profile stored with the latest experiment (no old data is read) and exits 1; the demo goes on.
python generate_data.py --shift 0.8 --missing 0.05
status=0
step mlv data check || status=$?
if [ "$status" -ne 0 ]; then printf 'drift detected (exit %s): time to re-validate the model\n' "$status"; fi
python generate_data.py  # back to the training data for the rest of the demo

# Share: a bare repository stands in for the team's git server.
git init -q --bare -b main "$base/demo-remote.git"
git remote add origin "$base/demo-remote.git"
step mlv hooks install
step mlv push origin

# A teammate's fresh clone: pull the data, then re-run the first experiment and get a verdict.
rm -rf "$base/demo-clone"
git clone -q "$base/demo-remote.git" "$base/demo-clone"
cd "$base/demo-clone"
git config user.name "mlv demo teammate"
git config user.email "teammate@example.com"
step mlv pull
step mlv reproduce HEAD~1 --yes
printf '\ndemo finished: %s (experiments), %s (fresh clone)\n' "$work" "$(pwd)"

# The loop CI runs (docs/how-to/ci.md), here by hand in the teammate's clone: production is the
# first experiment; drifted data arrives; the data check fails; a retrain is gated against
# production, then registered and packaged as a verified folder a deploy step would ship.
step mlv model register sample HEAD~1 -m "baseline"
step mlv model promote sample v0.0.1 prod
python - <<'PY'
import numpy as np  # the same relation on shifted inputs: what production sees after a change upstream
rng = np.random.default_rng(11)
x = rng.normal(size=(2000, 4)) + 1.5
y = x @ np.array([1.5, -2.0, 0.7, 3.1]) + 0.5 + rng.normal(scale=0.3, size=2000)
rows = ["x1,x2,x3,x4,y"] + [",".join(f"{v:.6f}" for v in (*r, t)) for r, t in zip(x, y)]
open("data/dataset.csv", "w").write("\n".join(rows) + "\n")
PY
step mlv data check data/dataset.csv --against "sample#prod" || echo "drift detected: retrain"
printf 'gate:\n  metrics:\n    r2: {min: 0.95}\n    mse: {max_drop_rel: 0.5}\n' >> .mlv/config.yaml
step mlv snapshot --run "python train.py" -m "retrain on drifted data"
step mlv gate --against "sample#prod" --md "$base/demo-gate.md"
step mlv model register sample -m "retrained on drifted data"
# A promotion gate: staging takes a version only if r2 holds up against the version there now.
python - <<'PY'
import yaml
doc = yaml.safe_load(open(".mlv/config.yaml"))
doc["models"]["sample"]["gates"] = {"staging": {"metrics": {"r2": {"min": 0.9, "max_drop_abs": 0.05}}}}
open(".mlv/config.yaml", "w").write(yaml.safe_dump(doc, sort_keys=False))
PY
step mlv model promote sample v0.0.2 staging
step mlv model list
step mlv model package sample@v0.0.2 -o "$base/demo-bundle"
step mlv model verify "$base/demo-bundle"
# Everything above on one page: experiments, metrics over time, models, data health (open it in a browser).
step mlv report -o "$base/demo-report.html"
printf '\nloop finished: gate report %s, package %s, report %s\n' "$base/demo-gate.md" "$base/demo-bundle" "$base/demo-report.html"

# Production, and back: serve prod on a free loopback port (every prediction logged), send bounded
# traffic whose inputs have shifted, let `mlv monitor` flag it, add the ground truth, export what
# production saw, retrain on it, gate against prod, register, promote, and watch the running server
# (--follow) swap to the new version without a failed request. A trap stops the server, even on failure.
log="$base/demo-predictions"
rm -rf "$log" "$base/demo-outcomes.csv" "$base/demo-serve.log"
port="$(python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
server=""
stop_server() {
  if [ -n "$server" ] && kill -0 "$server" 2>/dev/null; then
    kill -TERM "$server" 2>/dev/null || true  # SIGTERM: every acknowledged prediction is written
    for _ in $(seq 1 100); do kill -0 "$server" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$server" 2>/dev/null || true
  fi
  server=""
}
trap stop_server EXIT
trap 'stop_server; exit 130' INT TERM
printf '\n\033[1m$ mlv serve sample#prod --follow --follow-every 0.5 --port %s --log %s --log-interval 0.5 &\033[0m\n' "$port" "$log"
mlv serve "sample#prod" --follow --follow-every 0.5 --port "$port" --log "$log" --log-interval 0.5 \
  >"$base/demo-serve.log" 2>&1 &
server=$!
python - "$port" "$base/demo-outcomes.csv" <<'PY'
import http.client, json, sys, time
import numpy as np
port, outcomes = int(sys.argv[1]), sys.argv[2]
deadline = time.monotonic() + 60
while True:  # wait for the server, bounded
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", "/health")
        health = json.loads(conn.getresponse().read())
        break
    except OSError:
        if time.monotonic() > deadline:
            sys.exit("the server did not start in 60 s (see demo-serve.log)")
        time.sleep(0.2)
print(f"serving {health['model']} {health['version']}; sending 300 requests of 2 rows, x1 and x2 shifted by 2")
rng, names, weights = np.random.default_rng(27), ("x1", "x2", "x3", "x4"), np.array([1.5, -2.0, 0.7, 3.1])
labels = ["request_id,label"]
for i in range(300):  # bounded traffic: what production sees after a change upstream
    x = rng.normal(size=(2, 4))
    x[:, :2] += 2.0
    y = x @ weights + 0.5 + rng.normal(scale=0.3, size=2)  # the outcome, known later
    body = json.dumps({"rows": [dict(zip(names, map(float, row))) for row in x]})
    conn.request("POST", "/predict", body, {"content-type": "application/json", "x-request-id": f"req-{i}"})
    response = conn.getresponse()
    response.read()
    if response.status != 200:
        sys.exit(f"request {i} answered {response.status}")
    labels += [f"req-{i}:{j},{float(y[j])!r}" for j in range(2)]
open(outcomes, "w").write("\n".join(labels) + "\n")
time.sleep(1.2)  # two log intervals: every answered row is in a segment
PY
status=0
step mlv monitor "sample#prod" --log "$log" --window 1h || status=$?
if [ "$status" -ne 1 ]; then printf 'expected mlv monitor to flag the shift (exit 1), got %s\n' "$status"; exit 1; fi
printf 'production drifted (exit 1): retrain on what it saw\n'
step mlv monitor labels --log "$log" "$base/demo-outcomes.csv"
rm data/dataset.csv  # production's labelled rows become the training data
step mlv monitor export "sample#prod" --log "$log" --window 1h -o data/dataset.csv
step mlv snapshot --run "python train.py" -m "retrain on production rows"
step mlv gate --against "sample#prod"
step mlv model register sample -m "retrained on production rows"
new="$(mlv model show sample@latest --json | python -c 'import json, sys; print(json.load(sys.stdin)["version"])')"
step mlv model promote sample "$new" staging
step mlv model promote sample "$new" prod
python - "$port" "$new" <<'PY'
import http.client, json, sys, time
port, new = int(sys.argv[1]), sys.argv[2]
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
body = json.dumps({"rows": [{"x1": 0.5, "x2": 0.5, "x3": 0.5, "x4": 0.5}]})
sent = failed = 0
deadline, version = time.monotonic() + 60, None
while version != new and time.monotonic() < deadline:  # requests go on while --follow swaps
    try:
        conn.request("POST", "/predict", body, {"content-type": "application/json"})
        response = conn.getresponse()
        response.read()
        sent += 1
        failed += response.status != 200
        conn.request("GET", "/health")
        version = json.loads(conn.getresponse().read())["version"]
    except (OSError, http.client.HTTPException):
        failed += 1
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
print(f"the server now serves {version}: {sent} requests during the swap, {failed} failed")
sys.exit(0 if version == new and not failed else 1)
PY
stop_server
printf '\nproduction loop finished: log %s, server output %s\n' "$log" "$base/demo-serve.log"
