#!/usr/bin/env bash
# Remote benchmark over loopback (127.0.0.1) on the Fashion-MNIST images as PNG (plus
# labels.csv; COUNT images, default all 70,000):
#   push:  vrepo push to `vrepo serve` (into a new repository each run)
#          vs rsync -a to an rsync daemon (rsync://, TCP on loopback, into a new folder)
#          vs git push to git daemon (git://, TCP on loopback, into a new bare repository)
#   clone: vrepo clone from `vrepo serve` vs rsync -a from the daemon vs git clone from the
#          daemon, each into a new folder.
# All three go through a server process over TCP, none over a local path. vrepo syncs what it
# receives to disk (pack files, index, refs) before it answers; rsync and git daemon do not
# fsync. Each timed command runs once as a warm-up, then RUNS times (default 3); the median is
# reported. Preparing a run (an empty bare git repository) is not timed. Not part of ctest.
# usage: bench/remote_bench.sh   (env: COUNT=70000, BENCH_DIR=/tmp/vrepo-remote-bench, RUNS=3,
#                                  JOBS=4 (vrepo streams), KEEP=0; needs ./setup.sh --bench)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
require git rsync

count=${COUNT:-70000}
dir=${BENCH_DIR:-/tmp/vrepo-remote-bench}
runs=${RUNS:-3}
jobs=${JOBS:-4}
rm -rf "$dir"
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
src=$dir/src
vrepo() { "$VREPO_BIN" "$@"; }

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

# A free TCP port on 127.0.0.1 (the kernel picks it; the server binds it right after).
free_port() {
  /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

echo "Exporting $count Fashion-MNIST images into $src ..." >&2
"$VREPO_EXPORT_BIN" --out "$src" --split all --limit "$count" >/dev/null
find "$src" -type d -empty -delete  # no version control keeps empty folders
files=$(find "$src" -type f | wc -l)
bytes=$(find "$src" -type f -printf "%s\n" | awk '{ s += $1 } END { print s }')

echo "Committing them to vrepo and git (not timed) ..." >&2
vrepo -C "$src" init >/dev/null
vrepo -C "$src" add . >/dev/null
vrepo -C "$src" commit -m import >/dev/null
git_src=$dir/git-src.git
git init -q --bare -b main "$git_src"
echo .vrepo/ >"$git_src/info/exclude"
git --git-dir="$git_src" --work-tree="$src" add -A
git --git-dir="$git_src" --work-tree="$src" commit -q -m import

# --- servers -----------------------------------------------------------------------------
echo "Starting vrepo serve, rsync --daemon and git daemon on 127.0.0.1 ..." >&2
token=bench-token-$RANDOM$RANDOM
printf '%s rw *\n' "$token" >"$dir/tokens"
mkdir -p "$dir/vrepo-root"
# The binary itself, not the vrepo() function, so that $! is the server and cleanup stops it.
"$VREPO_BIN" serve --root "$dir/vrepo-root" --listen 127.0.0.1:0 --tokens "$dir/tokens" \
  >"$dir/serve.out" 2>"$dir/serve.log" &
pids+=($!)
for _ in $(seq 100); do grep -q '^listening on ' "$dir/serve.out" && break; sleep 0.1; done
vrepo_url=$(sed -n 's/^listening on //p' "$dir/serve.out")
[[ -n "$vrepo_url" ]] || { echo "bench: vrepo serve did not start" >&2; cat "$dir/serve.log" >&2; exit 1; }
export VREPO_TOKEN=$token

mkdir -p "$dir/rsync-root"
rsync_port=$(free_port)
cat >"$dir/rsyncd.conf" <<EOF
use chroot = no
uid = $(id -u)
gid = $(id -g)
[bench]
  path = $dir/rsync-root
  read only = no
EOF
rsync --daemon --no-detach --config="$dir/rsyncd.conf" --address=127.0.0.1 \
  --port="$rsync_port" --log-file="$dir/rsyncd.log" &
pids+=($!)
rsync_url=rsync://127.0.0.1:$rsync_port/bench

mkdir -p "$dir/git-root"
git_port=$(free_port)
git daemon --reuseaddr --base-path="$dir/git-root" --export-all --enable=receive-pack \
  --listen=127.0.0.1 --port="$git_port" "$dir/git-root" 2>"$dir/git-daemon.log" &
pids+=($!)
git_url=git://127.0.0.1:$git_port
sleep 1

# --- the timed operations (argument: run number) --------------------------------------------
push_vrepo() { vrepo -C "$src" push --jobs "$jobs" "$vrepo_url/push$1" main; }
push_rsync() { rsync -a --exclude=/.vrepo "$src/" "$rsync_url/push$1/"; }
prep_push_git() { git init -q --bare -b main "$dir/git-root/push$1.git"; }
push_git() { git --git-dir="$git_src" push -q "$git_url/push$1.git" main; }
clone_vrepo() { vrepo clone --jobs "$jobs" "$vrepo_url/push0" "$dir/clone-vrepo.$1"; }
clone_rsync() { rsync -a "$rsync_url/push0/" "$dir/clone-rsync.$1/"; }
clone_git() { git clone -q "$git_url/push0.git" "$dir/clone-git.$1"; }

# measure NAME: a warm-up and RUNS timed runs (prep_NAME first when defined, untimed); prints
# the median seconds. Run i uses index i, so every run writes somewhere new.
measure() {
  local name=$1 times=() t i
  for ((i = 0; i < 1 + runs; i++)); do
    if declare -F "prep_$name" >/dev/null; then "prep_$name" "$i"; fi
    sync
    t=$(seconds "$name" "$i")
    ((i < 1)) || times+=("$t")
  done
  echo "$name runs: ${times[*]}" >&2
  median "${times[@]}"
}

if ! vrepo push --help 2>/dev/null | grep -q -- --jobs; then
  push_vrepo() { vrepo -C "$src" push "$vrepo_url/push$1" main; }
  clone_vrepo() { vrepo clone "$vrepo_url/push0" "$dir/clone-vrepo.$1"; }
  jobs="default"
fi

echo "push ..." >&2
t_push_rsync=$(measure push_rsync)
t_push_git=$(measure push_git)
t_push_vrepo=$(measure push_vrepo)
echo "clone ..." >&2
t_clone_rsync=$(measure clone_rsync)
t_clone_git=$(measure clone_git)
t_clone_vrepo=$(measure clone_vrepo)

# The clones must hold exactly the exported files.
for c in clone-vrepo.0 clone-rsync.0 clone-git.0; do
  if ! diff -r --exclude=.vrepo --exclude=.git "$src" "$dir/$c" >/dev/null; then
    echo "bench: $c differs from the source tree" >&2
    exit 1
  fi
done
vrepo -C "$dir/clone-vrepo.0" fsck >/dev/null
s_served=$(size_of "$dir/vrepo-root/push0")

# --- report ------------------------------------------------------------------------------
r_push=$(ratio "$t_push_vrepo" "$t_push_rsync")
r_clone=$(ratio "$t_clone_vrepo" "$t_clone_rsync")
r_push_git=$(ratio "$t_push_git" "$t_push_vrepo")
r_clone_git=$(ratio "$t_clone_git" "$t_clone_vrepo")

echo
machine_line "$dir"
echo
echo "Data: $files files ($count PNG + labels.csv), $((bytes / 1048576)) MiB of file contents." \
  "All transfers over TCP on 127.0.0.1 through a server process: vrepo serve (http, $jobs" \
  "streams), rsync --daemon (rsync://), git daemon (git://). Median of $runs runs after one" \
  "warm-up; wall-clock seconds. vrepo syncs to disk before answering; rsync and git do not." \
  "Served vrepo repository: $s_served."
echo
echo "| Operation | vrepo | rsync -a | git |"
echo "|---|---|---|---|"
echo "| push into a new repository / folder | $t_push_vrepo s | $t_push_rsync s | $t_push_git s |"
echo "| clone into a new folder | $t_clone_vrepo s | $t_clone_rsync s | $t_clone_git s |"
echo
echo "| Ratio | Value | Target | Result |"
echo "|---|---|---|---|"
echo "| vrepo push / rsync push | ${r_push}x | <= 1.2x | $(verdict "$r_push" '<=' 1.2) |"
echo "| vrepo clone / rsync clone | ${r_clone}x | <= 1.2x | $(verdict "$r_clone" '<=' 1.2) |"
echo "| git push / vrepo push | ${r_push_git}x | (info) | |"
echo "| git clone / vrepo clone | ${r_clone_git}x | (info) | |"

if [[ "${KEEP:-0}" != 1 ]]; then
  echo "Removing $dir (KEEP=1 keeps it) ..." >&2
  cleanup
  rm -rf "$dir"
fi
