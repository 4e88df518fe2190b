#!/usr/bin/env bash
# The sample project's whole flow, in a fresh folder: init, snapshot a training run, change a
# parameter, snapshot again, log and diff; check new data for drift; then install the git hooks, push code and data, and in
# a teammate's fresh clone pull and reproduce the first experiment. Run it through `make demo`.
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
