#!/usr/bin/env bash
# Sharing a dataset and its training runs through `vrepo serve` on this machine (127.0.0.1):
# an engineer imports 2,000 Fashion-MNIST images, trains a small model and pushes the branch
# and the run with a read-write token; a teammate clones, relabels and pushes; the engineer
# pulls; then an auditor, with a read-only token, clones the repository and reproduces the run
# from its id alone.
# usage: examples/share.sh [FOLDER]   (default ./share-run; removed first if it is an old run)
# Needs a build (./setup.sh). VREPO_BIN and VREPO_EXPORT_BIN override the binaries' paths.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
dir=$(fresh_run_folder "${1:-./share-run}" server.log)
cd "$dir"

echo "== A server for the team: one read-write token, one read-only token for auditors"
mkdir server-root
cat >tokens <<'TOKENS'
# TOKEN   RIGHTS  REPOSITORIES
team-rw-token   rw  fmnist/*
auditor-token   r   fmnist/*
TOKENS
"$vrepo_bin" serve --root server-root --listen 127.0.0.1:0 --tokens tokens >server.log 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  grep -q '^listening on ' server.log && break
  sleep 0.1
done
base=$(sed -n 's/^listening on //p' server.log)
[[ -n "$base" ]] || { echo "share.sh: vrepo serve did not start:" >&2; cat server.log >&2; exit 1; }
url=$base/fmnist/shirts
echo "server: $url"

echo
echo "== The engineer imports, trains and pushes the branch with its run"
mkdir engineer
cd engineer
run "$export_bin" --out . --split train --limit 2000
run vrepo init
run vrepo add .
run vrepo commit -q -m "Import 2,000 Fashion-MNIST training images"
run vrepo remote add origin "$url" --token team-rw-token
have_train=0
if [[ -x "$(dirname "$vrepo_bin")/vrepo-train" ]]; then
  have_train=1
  run vrepo train --labels labels.csv --val-split 0.1 --model small-cnn --epochs 1 \
    --deterministic --seed 7 --name baseline
fi
run vrepo push origin main --runs

echo
echo "== A teammate clones, fixes two labels and pushes"
cd "$dir"
run env VREPO_TOKEN=team-rw-token "$vrepo_bin" clone "$url" teammate
cd teammate
awk -F, 'BEGIN { OFS = "," } NR == 2 || NR == 3 { $2 = "shirt" } { print }' labels.csv >l.new
mv l.new labels.csv
run vrepo add labels.csv
run vrepo commit -q -m "Fix two labels"
run env VREPO_TOKEN=team-rw-token "$vrepo_bin" push

echo
echo "== The engineer pulls the fix"
cd "$dir/engineer"
run vrepo pull
run vrepo log --oneline

echo
echo "== An auditor with a read-only token clones, and may not push"
cd "$dir"
run env VREPO_TOKEN=auditor-token "$vrepo_bin" clone "$url" auditor
cd auditor
echo "checked" >audit-notes.txt
run vrepo add audit-notes.txt
run vrepo commit -q -m "Audit notes"
if VREPO_TOKEN=auditor-token "$vrepo_bin" push 2>push.err; then
  echo "share.sh: the read-only token could push" >&2
  exit 1
fi
echo "refused as expected: $(cat push.err)"
run vrepo fsck
if ((have_train)); then
  echo
  echo "== The auditor reproduces the run from its id alone"
  run vrepo runs
  run vrepo reproduce baseline
  echo "OK: the cloned run reproduced bit for bit"
fi
echo
echo "share.sh: all steps passed (folders in $dir)"
