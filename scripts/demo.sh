#!/usr/bin/env bash
# The sample project's whole flow, in a fresh folder: init, snapshot a training run, change a
# parameter, snapshot again, then log, diff and reproduce. Run it through `make demo`.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
work="${MLV_DEMO_DIR:-$here/build/demo}"
rm -rf "$work" && mkdir -p "$work"
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
step mlv snapshot --run "python train.py" -m "baseline: test_size 0.25"
sed -i.bak 's/test_size: 0.25/test_size: 0.3/' params.yaml && rm params.yaml.bak
step mlv snapshot --run "python train.py" -m "hold out 30%"
step mlv log
if mlv diff --help >/dev/null 2>&1; then step mlv diff; fi
if mlv reproduce --help >/dev/null 2>&1; then step mlv reproduce HEAD~1 --yes; fi
printf '\ndemo finished in %s\n' "$work"
