#!/usr/bin/env bash
# S3 remote benchmark (issue 17) against rclone, on one S3 server started here: a one-node Ceph
# radosgw on 127.0.0.1 (tests/s3/s3_server.sh, objects in memory). Data: the Fashion-MNIST
# images as PNG plus labels.csv (COUNT images, default all 70,000).
#   push:        vrepo push of the commit to a new bucket
#                vs rclone copy of the folder to a new bucket
#   clone:       vrepo clone s3://... vs rclone copy s3:... to a new local folder
#   incremental: 1% of the images get new bytes (a tEXt chunk added: same pixels); vrepo commits
#                and pushes that commit to a bucket holding the previous one, rclone syncs the
#                changed folder onto its bucket holding the previous state.
# rclone runs twice: at its defaults (--transfers 4 --checkers 8) and tuned (--transfers 32
# --checkers 32 --fast-list --s3-no-head, and --checksum for the incremental sync, which
# then compares the listing's MD5 ETags instead of reading each object's mtime with a HEAD).
# --s3-upload-concurrency only splits files above --s3-upload-cutoff (200 MiB), so it changes
# nothing for these files. Requests and body bytes are counted by the server (radosgw's access
# log, every request of the command), max RSS by GNU time. Each lane (vrepo, rclone, rclone
# tuned) starts on a new server, and so does every rclone push (70,000 objects take ~3 GB of
# the server's memory). Each timed command runs WARMUPS times (default 1), then RUNS times
# (default 3); the median is reported. Not part of ctest.
# usage: bench/s3_bench.sh   (env: COUNT=70000, BENCH_DIR=/tmp/vrepo-s3-bench, RUNS=3,
#                             WARMUPS=1, JOBS=4 (vrepo streams), KEEP=0, VREPO_ONLY=0 (1: the
#                             vrepo lane alone, no rclone); ./setup.sh --bench)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
require rclone curl python3 /usr/bin/time

count=${COUNT:-70000}
dir=${BENCH_DIR:-/tmp/vrepo-s3-bench}
runs=${RUNS:-3}
warmups=${WARMUPS:-1}
jobs=${JOBS:-4}
server_script=$bench_root/tests/s3/s3_server.sh
rm -rf "$dir"
mkdir -p "$dir"/{out,rss}
dir=$(cd "$dir" && pwd)
server=$dir/s3-server
# shellcheck disable=SC2034 # read by requests_since (common.sh)
rgw_log=$server/log/client.rgw.vrepo.log
vrepo() { "$VREPO_BIN" "$@"; }
# rclone reads a CA bundle named by AWS_CA_BUNDLE even for http:// and fails when it cannot
# use it; the server here is plain http.
unset AWS_CA_BUNDLE

cleanup() { bash "$server_script" stop "$server" >/dev/null 2>&1 || true; }
trap cleanup EXIT

# (Re)starts the S3 server empty and exports its settings for vrepo (AWS_*) and rclone (the
# remote "s3:" configured through RCLONE_CONFIG_S3_*, no config file).
fresh_server() {
  bash "$server_script" stop "$server" >/dev/null 2>&1 || true
  bash "$server_script" start "$server" >"$dir/server-start.log" 2>&1 ||
    { cat "$dir/server-start.log" >&2; exit 1; }
  set -a
  # shellcheck disable=SC1091
  source "$server/env"
  set +a
  export RCLONE_CONFIG_S3_TYPE=s3 RCLONE_CONFIG_S3_PROVIDER=Ceph
  export RCLONE_CONFIG_S3_ENDPOINT=$AWS_ENDPOINT_URL RCLONE_CONFIG_S3_REGION=$AWS_REGION
  export RCLONE_CONFIG_S3_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID
  export RCLONE_CONFIG_S3_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY
  export RCLONE_CONFIG=/dev/null
}

# --- data --------------------------------------------------------------------------------
v0=$dir/v0  # the export
v1=$dir/v1  # the export with 1% of the images changed
repo=$dir/repo
echo "Exporting $count Fashion-MNIST images into $v0 ..." >&2
"$VREPO_EXPORT_BIN" --out "$v0" --split all --limit "$count" >/dev/null
find "$v0" -type d -empty -delete  # no version control keeps empty folders
files=$(find "$v0" -type f | wc -l)
bytes=$(find "$v0" -type f -printf "%s\n" | awk '{ s += $1 } END { print s }')

# Every 100th image (sorted paths) gets a tEXt chunk before IEND: new bytes, same pixels, and
# bytes found nowhere else, so no store can deduplicate them.
change_images() {
  (cd "$1" && find images -name '*.png' | sort | awk 'NR % 100 == 0') | python3 -c '
import sys
root = sys.argv[1]
for line in sys.stdin:
    path = root + "/" + line.strip()
    data = open(path, "rb").read()
    end = data.rindex(b"IEND") - 4
    text = b"Comment\0vrepo s3 bench: changed"
    import struct, zlib
    chunk = struct.pack(">I", len(text)) + b"tEXt" + text
    chunk += struct.pack(">I", zlib.crc32(chunk[4:]) & 0xffffffff)
    open(path, "wb").write(data[:end] + chunk + data[end:])
' "$1"
}

echo "Committing them to vrepo (not timed) ..." >&2
cp -a "$v0" "$repo"
vrepo -C "$repo" init >/dev/null
vrepo -C "$repo" add . >/dev/null
vrepo -C "$repo" commit -m import >/dev/null
vrepo -C "$repo" branch base >/dev/null
change_images "$repo"
vrepo -C "$repo" add . >/dev/null
vrepo -C "$repo" commit -m "1% changed" >/dev/null
# "M<tab>PATH<tab>OLD -> NEW bytes" for each changed image.
vrepo -C "$repo" diff base main >"$dir/changed.txt"
changed_files=$(wc -l <"$dir/changed.txt")
changed_bytes=$(awk -F'\t' '{ split($3, s, " "); b += s[3] } END { print b }' "$dir/changed.txt")
cp -a "$v0" "$v1"  # same mtimes for the files that stay the same
change_images "$v1"

# --- the timed operations (argument: run number) --------------------------------------------
# Each writes its max RSS (KiB) to rss/NAME.RUN; vrepo push its --json to out/NAME.RUN.
rss() {
  local name=$1 run=$2
  shift 2
  /usr/bin/time -f %M -o "$dir/rss/$name.$run" "$@"
}
prep_push_vrepo() { vrepo -C "$repo" remote add "push$1" "s3://vpush$1/ds" >/dev/null; }
push_vrepo() {
  rss push_vrepo "$1" "$VREPO_BIN" -C "$repo" push --json --jobs "$jobs" "push$1" base \
    >"$dir/out/push_vrepo.$1"
}
prep_clone_vrepo() { rm -rf "$dir"/clone-vrepo.*; }
clone_vrepo() {
  rss clone_vrepo "$1" "$VREPO_BIN" clone --jobs "$jobs" "s3://vpush$last/ds" "$dir/clone-vrepo.$1"
}
prep_incremental_vrepo() {
  vrepo -C "$repo" remote add "inc$1" "s3://vinc$1/ds" >/dev/null
  vrepo -C "$repo" push --jobs "$jobs" "inc$1" base >/dev/null
}
incremental_vrepo() {
  rss incremental_vrepo "$1" "$VREPO_BIN" -C "$repo" push --json --jobs "$jobs" "inc$1" main \
    >"$dir/out/incremental_vrepo.$1"
}

rclone_flags=()
rclone_sync_flags=()
# One new server per push: the previous run's 70,000 objects would fill its memory.
prep_push_rclone() { fresh_server; }
push_rclone() {
  rss "push_$lane" "$1" rclone copy "${rclone_flags[@]}" "$v0" "s3:rpush$1/ds"
}
prep_clone_rclone() { rm -rf "$dir"/clone-rclone.*; }
clone_rclone() {
  rss "clone_$lane" "$1" rclone copy "${rclone_flags[@]}" "s3:rpush$last/ds" "$dir/clone-rclone.$1"
}
# The bucket the last push filled holds v0; runs alternate v1 and v0 onto it, so every run
# sends the 1% that differs.
incremental_rclone() {
  local from=$v1
  if (($1 % 2)); then from=$v0; fi
  rss "incremental_$lane" "$1" rclone sync "${rclone_flags[@]}" "${rclone_sync_flags[@]}" \
    "$from" "s3:rpush$last/ds"
}

# One 50 MB object, PUT and GET with curl: one stream's ceiling on this server.
ceiling=$dir/ceiling.bin
head -c 50000000 /dev/urandom >"$ceiling"
ceiling_sha=$(sha256sum "$ceiling" | cut -c1-64)
empty_sha=$(sha256sum </dev/null | cut -c1-64)  # radosgw wants the payload hash, even of none
# curl's arguments for a signed request to the current server.
curl_s3() {
  echo -sf -o /dev/null --aws-sigv4 "aws:amz:$AWS_REGION:s3" \
    --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY"
}
prep_put_curl() {
  if (($1 == 0)); then
    # shellcheck disable=SC2046  # the arguments hold no spaces
    curl $(curl_s3) -H "x-amz-content-sha256: $empty_sha" -X PUT "$AWS_ENDPOINT_URL/ceiling"
  fi
}
put_curl() {
  # shellcheck disable=SC2046
  rss put_curl "$1" curl $(curl_s3) -H "x-amz-content-sha256: $ceiling_sha" -T "$ceiling" \
    "$AWS_ENDPOINT_URL/ceiling/o$1"
}
get_curl() {
  # shellcheck disable=SC2046
  rss get_curl "$1" curl $(curl_s3) -H "x-amz-content-sha256: $empty_sha" \
    "$AWS_ENDPOINT_URL/ceiling/o0"
}

# measure NAME [FN]: WARMUPS + RUNS runs of FN (default NAME), prep_FN first when defined
# (untimed; not in a subshell, so that a restarted server's settings stay); sets t[NAME] to
# the median seconds. Run i uses index i, so every run writes somewhere new. Keeps the runs in
# out/NAME.runs and the last run's server-side count in out/NAME.requests ("REQUESTS BYTES").
declare -A t
measure() {
  local name=$1 fn=${2:-$1} times=() s i n
  for ((i = 0; i < warmups + runs; i++)); do
    if declare -F "prep_$fn" >/dev/null; then "prep_$fn" "$i"; fi
    sync
    n=$(log_lines)
    s=$(seconds "$fn" "$i")
    requests_since "$n" >"$dir/out/$name.requests"
    ((i < warmups)) || times+=("$s")
  done
  echo "$name runs: ${times[*]}" >&2
  echo "${times[*]}" >"$dir/out/$name.runs"
  t[$name]=$(median "${times[@]}")
}
last=$((warmups + runs - 1))

echo "vrepo (new server) ..." >&2
fresh_server
measure put_curl
measure get_curl
measure push_vrepo
measure clone_vrepo
measure incremental_vrepo
if ! diff -r --exclude=.vrepo "$v0" "$dir/clone-vrepo.$last" >/dev/null; then
  echo "bench: the vrepo clone differs from the source folder" >&2
  exit 1
fi
vrepo -C "$dir/clone-vrepo.$last" fsck >/dev/null
rm -rf "$dir"/clone-vrepo.*

lanes=(rclone rclone_tuned)
[[ "${VREPO_ONLY:-0}" == 1 ]] && lanes=()
for lane in "${lanes[@]}"; do
  echo "$lane (a new server for each push) ..." >&2
  if [[ $lane == rclone_tuned ]]; then
    rclone_flags=(--transfers 32 --checkers 32 --fast-list --s3-no-head)
    rclone_sync_flags=(--checksum)
  fi
  measure "push_$lane" push_rclone
  measure "clone_$lane" clone_rclone
  if ! diff -r "$v0" "$dir/clone-rclone.$last" >/dev/null; then
    echo "bench: the $lane clone differs from the source folder" >&2
    exit 1
  fi
  rm -rf "$dir"/clone-rclone.*
  measure "incremental_$lane" incremental_rclone
done

# --- report ------------------------------------------------------------------------------
# field NAME K: K-th field (1 requests, 2 bytes) of the last run's server-side count.
field() { cut -d' ' -f"$2" "$dir/out/$1.requests"; }
max_rss() { sort -n "$dir"/rss/"$1".* | tail -n 1; }
mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }
best() { awk -v a="$1" -v b="$2" 'BEGIN { print (a <= b ? a : b) }'; }
json_field() { sed -n "s/.*\"$2\":\([0-9]*\).*/\1/p" "$dir/out/$1.$last"; }

echo
machine_line "$dir"
echo
echo "Data: $files files ($count PNG + labels.csv), $((bytes / 1048576)) MiB of file contents;" \
  "the incremental step changes $changed_files images ($changed_bytes bytes after the change). S3: radosgw (Ceph $(radosgw --version 2>/dev/null | awk '{ print $3 }'))" \
  "on 127.0.0.1, memstore. rclone $(rclone version 2>/dev/null | awk 'NR == 1 { print $2 }')." \
  "Median of $runs runs after $warmups warm-up(s); wall-clock seconds. Requests and body" \
  "bytes as radosgw logged them for the last run; RSS: the largest of the runs (GNU time)."
echo
if [[ "${VREPO_ONLY:-0}" == 1 ]]; then
  echo "| Operation | vrepo seconds | requests | body MiB | max RSS |"
  echo "|---|---|---|---|---|"
  for op in push clone incremental; do
    echo "| $op | ${t[${op}_vrepo]} s | $(field "${op}_vrepo" 1) |" \
      "$(mib "$(field "${op}_vrepo" 2)") | $(($(max_rss "${op}_vrepo") / 1024)) MiB |"
  done
  exit 0
fi
echo "| Operation | vrepo | rclone (4 transfers) | rclone tuned (32) | vrepo / better rclone |"
echo "|---|---|---|---|---|"
for op in push clone incremental; do
  v=${t[${op}_vrepo]} r=${t[${op}_rclone]} rt=${t[${op}_rclone_tuned]}
  echo "| $op seconds | $v s | $r s | $rt s | $(ratio "$v" "$(best "$r" "$rt")")x |"
  echo "| $op requests | $(field "${op}_vrepo" 1) | $(field "${op}_rclone" 1) |" \
    "$(field "${op}_rclone_tuned" 1) | |"
  echo "| $op body MiB | $(mib "$(field "${op}_vrepo" 2)") | $(mib "$(field "${op}_rclone" 2)") |" \
    "$(mib "$(field "${op}_rclone_tuned" 2)") | |"
  echo "| $op max RSS | $(($(max_rss "${op}_vrepo") / 1024)) MiB |" \
    "$(($(max_rss "${op}_rclone") / 1024)) MiB | $(($(max_rss "${op}_rclone_tuned") / 1024)) MiB | |"
done
echo
echo "vrepo's own count (push --json, last run): push $(json_field push_vrepo requests) requests," \
  "$(json_field push_vrepo bytes_sent) bytes sent; incremental" \
  "$(json_field incremental_vrepo requests) requests, $(json_field incremental_vrepo bytes_sent)" \
  "bytes sent."
echo "Ceiling, one curl stream, one 50 MB object: PUT ${t[put_curl]} s" \
  "($(awk -v s="${t[put_curl]}" 'BEGIN { printf "%.0f", 50 / s }') MB/s), GET ${t[get_curl]} s" \
  "($(awk -v s="${t[get_curl]}" 'BEGIN { printf "%.0f", 50 / s }') MB/s)."
echo
echo "| Ratio | Value | Target | Result |"
echo "|---|---|---|---|"
for op in push clone; do
  r=$(ratio "${t[${op}_vrepo]}" "$(best "${t[${op}_rclone]}" "${t[${op}_rclone_tuned]}")")
  echo "| vrepo $op / better rclone $op | ${r}x | <= 0.5x | $(verdict "$r" '<=' 0.5) |"
done
r=$(ratio "${t[incremental_vrepo]}" "$(best "${t[incremental_rclone]}" "${t[incremental_rclone_tuned]}")")
echo "| vrepo incremental / better rclone incremental | ${r}x | (info) | |"
echo
echo "Runs (seconds):"
for f in "$dir"/out/*.runs; do echo "- $(basename "$f" .runs): $(cat "$f")"; done
echo "Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"

if [[ "${KEEP:-0}" != 1 ]]; then
  echo "Removing $dir (KEEP=1 keeps it) ..." >&2
  cleanup
  rm -rf "$dir"
fi
