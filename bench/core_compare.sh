#!/usr/bin/env bash
# Two vrepo builds on core_bench.sh's vrepo steps (70,000 Fashion-MNIST PNGs): import
# (init+add+commit), checkout into an empty folder, status of the unchanged tree. Runs
# alternate A and B so both see the same disk state; prints medians and B/A ratios. For
# refactors that must not move the numbers. Not part of ctest.
# usage: bench/core_compare.sh OLD_VREPO NEW_VREPO   (env: BENCH_DIR=/tmp/vrepo-compare, RUNS=5)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
require hyperfine
(($# == 2)) || { echo "usage: $0 OLD_VREPO NEW_VREPO" >&2; exit 129; }
bin_a=$(realpath "$1") bin_b=$(realpath "$2")
dir=${BENCH_DIR:-/tmp/vrepo-compare}
runs=${RUNS:-5}
rm -rf "$dir"
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
"$VREPO_EXPORT_BIN" --out "$dir/src" --split all >/dev/null

# import: each build in its own copy of the tree, so .vrepo is the only thing removed.
cp -a "$dir/src" "$dir/a" && cp -a "$dir/src" "$dir/b"
prep_import_a() { rm -rf "$dir/a/.vrepo"; }
prep_import_b() { rm -rf "$dir/b/.vrepo"; }
import_a() { "$bin_a" -C "$dir/a" init && "$bin_a" -C "$dir/a" add . && "$bin_a" -C "$dir/a" commit -m x; }
import_b() { "$bin_b" -C "$dir/b" init && "$bin_b" -C "$dir/b" add . && "$bin_b" -C "$dir/b" commit -m x; }
read -r t_imp_a t_imp_b <<<"$(measure_pair import_a import_b 1 "$runs")"

prep_co_a() { mkdir -p "$dir/co-a.$1" && cp -a "$dir/a/.vrepo" "$dir/co-a.$1/"; }
prep_co_b() { mkdir -p "$dir/co-b.$1" && cp -a "$dir/b/.vrepo" "$dir/co-b.$1/"; }
co_a() { "$bin_a" -C "$dir/co-a.$1" checkout --force main; }
co_b() { "$bin_b" -C "$dir/co-b.$1" checkout --force main; }
read -r t_co_a t_co_b <<<"$(measure_pair co_a co_b 1 "$runs")"
diff -r --exclude=.vrepo "$dir/src" "$dir/co-b.0" >/dev/null ||
  { echo "bench: B's checkout differs from the source tree" >&2; exit 1; }

csv=$dir/status.csv
hyperfine -N --warmup 3 --runs 20 --export-csv "$csv" \
  -n a "$bin_a -C $dir/a status" -n b "$bin_b -C $dir/b status" >&2
t_st_a=$(awk -F, '$1 == "a" { printf "%.4f\n", $4 }' "$csv")
t_st_b=$(awk -F, '$1 == "b" { printf "%.4f\n", $4 }' "$csv")

echo "| step (70,000 files) | A: $1 | B: $2 | B/A |"
echo "|---|---|---|---|"
echo "| import (init+add+commit) | ${t_imp_a} s | ${t_imp_b} s | $(ratio "$t_imp_b" "$t_imp_a") |"
echo "| checkout into an empty folder | ${t_co_a} s | ${t_co_b} s | $(ratio "$t_co_b" "$t_co_a") |"
echo "| status, unchanged tree (median of 20) | ${t_st_a} s | ${t_st_b} s | $(ratio "$t_st_b" "$t_st_a") |"
[[ "${KEEP:-0}" == 1 ]] || rm -rf "$dir"
