#!/usr/bin/env bash
# A dataset curation session on real data: import 2,000 Fashion-MNIST images, check them, split
# train/validation, let two annotators relabel on their own branches, look at the sample-level
# diff, merge both (the label table merges row by row), then hit and resolve a real conflict:
# both sides relabeling the same image.
# usage: examples/curation.sh [FOLDER]   (default ./curation-run; removed first if it is an old run)
# Needs a build (./setup.sh). VREPO_BIN and VREPO_EXPORT_BIN override the binaries' paths.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
dir=$(fresh_run_folder "${1:-./curation-run}" .vrepo)
cd "$dir"

# Sets the label of one image in labels.csv (the annotator's edit).
relabel() {
  local path=$1 label=$2
  awk -F, -v p="$path" -v l="$label" 'BEGIN { OFS = "," } $1 == p { $2 = l } { print }' \
    labels.csv >labels.csv.new
  mv labels.csv.new labels.csv
}

echo "== Import"
run "$export_bin" --out . --split train --limit 2000
run vrepo init
run vrepo add .
run vrepo commit -q -m "Import 2,000 Fashion-MNIST training images"
run vrepo dataset check --labels labels.csv
run vrepo dataset stats --labels labels.csv

echo
echo "== Split 90/10, every class in proportion (stable: new images never move old ones)"
run vrepo dataset split --labels labels.csv --ratios 0.9,0.1 --seed 42 --stratify
run vrepo add labels.train.csv labels.val.csv
run vrepo commit -q -m "Split train/val (seed 42, stratified)"

echo
echo "== Two annotators fix labels on their own branches"
run vrepo branch annotator-a
run vrepo branch annotator-b
run vrepo switch annotator-a
relabel images/train/00003.png coat
relabel images/train/00010.png pullover
run vrepo add labels.csv
run vrepo commit -q -m "a: fix two labels"
run vrepo switch annotator-b
relabel images/train/00020.png shirt
relabel images/train/00042.png bag
run vrepo add labels.csv
run vrepo commit -q -m "b: fix two other labels"
run vrepo diff main annotator-b --labels labels.csv

echo
echo "== Merge both into main: different samples relabeled on each side merge cleanly"
run vrepo switch main
run vrepo merge annotator-a
run vrepo merge annotator-b
run vrepo diff HEAD~2 HEAD --labels labels.csv
run vrepo log --oneline -n 5

echo
echo "== A conflict: both sides relabel images/train/00005.png differently"
run vrepo branch annotator-c
relabel images/train/00005.png dress
run vrepo add labels.csv
run vrepo commit -q -m "main: 00005 is a dress"
run vrepo switch annotator-c
relabel images/train/00005.png coat
run vrepo add labels.csv
run vrepo commit -q -m "c: 00005 is a coat"
run vrepo switch main
if run vrepo merge annotator-c; then
  echo "curation.sh: expected a conflict" >&2
  exit 1
fi
echo "(exit 1: nothing was committed; 'vrepo merge --abort' would restore the state before)"
echo "-- the reviewer decides: it is a coat"
relabel images/train/00005.png coat
run vrepo add labels.csv
run vrepo commit -q -m "Merge annotator-c: 00005 is a coat"
run vrepo log --oneline -n 3
run vrepo dataset check --labels labels.csv
echo
echo "curation.sh: done in $PWD"
