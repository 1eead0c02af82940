#!/usr/bin/env bash
# Core benchmark on all 70,000 Fashion-MNIST images as PNG (plus labels.csv), in one run:
#   a) import: vrepo init+add+commit vs git, git-lfs, and tar | zstd -1 (the floor)
#   b) checkout into an empty folder vs tar -xf of the same files
#   c) status of the unchanged tree vs git status
# Each timed command runs once to warm the page cache, then RUNS times (default 3); the median
# is reported. Prints markdown tables for docs/benchmarks.md. Not part of ctest.
# usage: bench/core_bench.sh   (env: BENCH_DIR=/tmp/vrepo-bench, RUNS=3, LFS_RUNS=1, KEEP=0;
#                                needs ./setup.sh --bench)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
require git git-lfs hyperfine zstd tar

dir=${BENCH_DIR:-/tmp/vrepo-bench}
runs=${RUNS:-3}
rm -rf "$dir"
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
src=$dir/src

echo "Exporting 70,000 Fashion-MNIST images into $src ..." >&2
"$VREPO_EXPORT_BIN" --out "$src" --split all >/dev/null
files=$(find "$src" -type f | wc -l)
bytes=$(find "$src" -type f -printf "%s\n" | awk '{ s += $1 } END { print s }')

vrepo() { "$VREPO_BIN" "$@"; }

# --- a) import -------------------------------------------------------------------------
# Every run writes a new repository (git.0, git.1, ...) instead of removing the last one: on a
# file system mounted with online discard, removing 70,000 files takes minutes. All removals
# happen at the end, after the report. Only vrepo's .vrepo (a few pack and index files) has to
# be removed between runs, since it lives in the tree; that is outside the timing too.
prep_import_vrepo() { rm -rf "$src/.vrepo"; }
import_vrepo() {
  vrepo -C "$src" init && vrepo -C "$src" add . && vrepo -C "$src" commit -m x
}
# git keeps its repository outside the tree (GIT_DIR) so the source folder stays the same.
prep_import_git() { :; }
import_git() {
  local gd=$dir/git.$1
  git init -q --bare "$gd"
  echo .vrepo/ >"$gd/info/exclude"
  git --git-dir="$gd" --work-tree="$src" add -A
  git --git-dir="$gd" --work-tree="$src" commit -q -m x
}
prep_import_lfs() { rm -f "$src/.gitattributes"; }
import_lfs() {
  local gd=$dir/lfs.$1
  git init -q --bare "$gd"
  echo .vrepo/ >"$gd/info/exclude"
  (
    export GIT_DIR=$gd GIT_WORK_TREE=$src
    cd "$src"
    git lfs install --local >/dev/null
    git lfs track "*.png" >/dev/null
    git add -A
    git commit -q -m x
  )
}
prep_import_tar_zstd() { rm -f "$dir/x.tar.zst"; }
import_tar_zstd() {
  tar -C "$src" -c images labels.csv | zstd -1 -T0 -q -f -o "$dir/x.tar.zst"
}

echo "a) import ..." >&2
t_tar=$(measure import_tar_zstd 1 "$runs")
t_git=$(measure import_git 1 "$runs")
git_dir=$dir/git.$runs
# git-lfs takes minutes per run (its clean filter handles one file at a time); the page cache
# is already warm from the runs above, so it runs LFS_RUNS times (default 1) with no warm-up.
lfs_runs=${LFS_RUNS:-1}
t_lfs=$(measure import_lfs 0 "$lfs_runs")
rm -f "$src/.gitattributes"
t_vrepo=$(measure import_vrepo 1 "$runs")
s_vrepo=$(size_of "$src/.vrepo")
s_git=$(size_of "$git_dir")
s_lfs=$(size_of "$dir/lfs.0")
s_tar=$(size_of "$dir/x.tar.zst")

# --- b) checkout into an empty folder ---------------------------------------------------
echo "b) checkout ..." >&2
tar -C "$src" -cf "$dir/x.tar" images labels.csv
# An empty folder holding only a copy of .vrepo; copying it is outside the timing.
prep_checkout_vrepo() { mkdir -p "$dir/co-vrepo.$1" && cp -a "$src/.vrepo" "$dir/co-vrepo.$1/"; }
checkout_vrepo() { vrepo -C "$dir/co-vrepo.$1" checkout --force main; }
prep_extract_tar() { mkdir -p "$dir/co-tar.$1"; }
extract_tar() { tar -C "$dir/co-tar.$1" -xf "$dir/x.tar"; }
# vrepo's checkout ends with fsyncs (index batch, HEAD), and on ext4 any fsync commits the
# journal holding all 70,000 new inodes; tar never syncs. tar followed by sync pays the same.
prep_extract_tar_sync() { mkdir -p "$dir/co-tars.$1"; }
extract_tar_sync() { tar -C "$dir/co-tars.$1" -xf "$dir/x.tar" && sync; }
read -r t_co_vrepo t_co_tar <<<"$(measure_pair checkout_vrepo extract_tar 1 "$runs")"
# The checkout must reproduce the export exactly.
if ! diff -r --exclude=.vrepo "$src" "$dir/co-vrepo.0" >/dev/null; then
  echo "bench: vrepo checkout into an empty folder differs from the source tree" >&2
  exit 1
fi
t_co_tar_sync=$(measure extract_tar_sync 1 "$runs")

# --- c) status of the unchanged tree ------------------------------------------------------
echo "c) status ..." >&2
csv=$dir/status.csv
hyperfine -N --warmup 3 --runs 10 --export-csv "$csv" \
  -n vrepo "$VREPO_BIN -C $src status" \
  -n git "git --git-dir=$git_dir --work-tree=$src status" >&2
t_st_vrepo=$(awk -F, '$1 == "vrepo" { printf "%.3f\n", $4 }' "$csv")
t_st_git=$(awk -F, '$1 == "git" { printf "%.3f\n", $4 }' "$csv")

# --- report ------------------------------------------------------------------------------
r_git=$(ratio "$t_git" "$t_vrepo")
r_lfs=$(ratio "$t_lfs" "$t_vrepo")
r_floor=$(ratio "$t_vrepo" "$t_tar")
r_co=$(ratio "$t_co_vrepo" "$t_co_tar")
r_co_sync=$(ratio "$t_co_vrepo" "$t_co_tar_sync")
r_st=$(ratio "$t_st_vrepo" "$t_st_git")

echo
machine_line "$dir"
echo
echo "Data: $files files (70,000 PNG + labels.csv), $((bytes / 1048576)) MiB of file contents ($(size_of "$src") on disk)." \
  "Median of $runs runs after one warm-up (git-lfs: $lfs_runs run, no warm-up); wall-clock seconds;" \
  "preparing a run (removing .vrepo, an empty target folder) is not timed."
echo
echo "| Operation | vrepo | git | git-lfs | tar+zstd -1 (floor) | Stored size (vrepo / git / lfs / tar.zst) |"
echo "|---|---|---|---|---|---|"
echo "| import: init + add + commit | $t_vrepo s | $t_git s | $t_lfs s | $t_tar s | $s_vrepo / $s_git / $s_lfs / $s_tar |"
echo
echo "| Operation | vrepo | reference | reference tool |"
echo "|---|---|---|---|"
echo "| checkout into an empty folder | $t_co_vrepo s | $t_co_tar s | tar -xf (uncompressed) |"
echo "| checkout into an empty folder | $t_co_vrepo s | $t_co_tar_sync s | tar -xf, then sync |"
echo "| status, unchanged tree (median of 10) | $t_st_vrepo s | $t_st_git s | git status |"
echo
echo "| Ratio | Value | Target | Result |"
echo "|---|---|---|---|"
echo "| git import time / vrepo import time | ${r_git}x | >= 6x | $(verdict "$r_git" '>=' 6) |"
echo "| git-lfs import time / vrepo import time | ${r_lfs}x | (info) | |"
echo "| vrepo import time / tar+zstd time | ${r_floor}x | <= 2x | $(verdict "$r_floor" '<=' 2) |"
echo "| vrepo checkout / tar -xf | ${r_co}x | <= 1.2x | $(verdict "$r_co" '<=' 1.2) |"
echo "| vrepo checkout / (tar -xf; sync) | ${r_co_sync}x | (info: same durability) | |"
echo "| vrepo status / git status | ${r_st}x | <= 1x | $(verdict "$r_st" '<=' 1) |"

if [[ "${KEEP:-0}" != 1 ]]; then
  echo "Removing $dir (slow where the file system discards blocks on unlink; KEEP=1 keeps it) ..." >&2
  rm -rf "$dir"
fi
