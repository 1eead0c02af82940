#!/usr/bin/env bash
# The vrepo walk-through on real data: version 3,000 Fashion-MNIST images and their labels,
# fix 20 labels, look at the history, go back to the first version and check it byte for byte,
# then train a small model on the fixed labels, show its run record and reproduce it.
# usage: examples/demo.sh [FOLDER]    (default ./demo-run; removed first if it is an old demo)
# Needs a build (./setup.sh). VREPO_BIN and VREPO_EXPORT_BIN override the binaries' paths.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
dir=$(fresh_run_folder "${1:-./demo-run}" .vrepo)
count=3000
pristine=$(mktemp -d /tmp/vrepo-demo-pristine.XXXXXX)
trap 'rm -rf "$pristine"' EXIT
vrepo-fmnist-export() { "$export_bin" "$@"; }

cd "$dir"
echo "== Export $count Fashion-MNIST training images into $dir"
run vrepo-fmnist-export --out . --split train --limit "$count"
cp -a images labels.csv "$pristine/"

echo
echo "== Version them"
run vrepo init
run vrepo add .
run vrepo commit -m "Import $count Fashion-MNIST images"
first=$(vrepo rev-parse HEAD)

echo
echo "== Fix 20 labels (rows 2-21 of labels.csv move to the next class)"
awk -F, -v OFS=, '
  BEGIN { n = split("tshirt trouser pullover dress coat sandal shirt sneaker bag ankle_boot", c, " ")
          for (i = 1; i <= n; i++) next_of[c[i]] = c[i % n + 1] }
  NR >= 2 && NR <= 21 { $2 = next_of[$2] }
  { print }' "$pristine/labels.csv" >labels.csv
run vrepo status
run vrepo add labels.csv
run vrepo commit -m "Fix 20 labels"
run vrepo log --oneline
run vrepo diff HEAD~1 HEAD --stat
cp labels.csv "$pristine/labels.fixed.csv"

echo
echo "== Back to the first version"
run vrepo checkout "$first"
if diff -r --exclude=.vrepo "$pristine/images" images >/dev/null &&
  cmp -s "$pristine/labels.csv" labels.csv; then
  echo "OK: labels.csv and all $count images equal the original export byte for byte"
else
  echo "FAIL: the checked-out tree differs from the original export" >&2
  exit 1
fi

echo
echo "== And forward again"
run vrepo switch main
cmp "$pristine/labels.fixed.csv" labels.csv
echo "OK: labels.csv holds the 20 fixed labels again"
run vrepo fsck
echo "OK: fsck found no problems"

echo
if [[ -x "$(dirname "$vrepo_bin")/vrepo-train" ]]; then
  echo "== Train a small model on the fixed labels, look at its record, and reproduce it"
  run vrepo train --labels labels.csv --val-split 0.1 --model small-cnn --epochs 2 \
    --deterministic --seed 1 --name demo
  run vrepo runs
  run vrepo runs show demo
  run vrepo reproduce demo
  echo "OK: the run reproduced bit for bit from its record"
else
  echo "== Training skipped: this vrepo was built without libtorch"
fi
echo
echo "demo.sh: all steps passed (repository in $dir)"
