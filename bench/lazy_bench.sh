#!/usr/bin/env bash
# Lazy clone benchmark (issue 17): Fashion-MNIST (COUNT images, default all 70,000, plus
# labels.csv) pushed to an S3 remote (the tests' radosgw on 127.0.0.1), then
#   full: vrepo clone, then train small-cnn for one epoch on a 5% table (every 20th row);
#   lazy: vrepo clone --lazy, then the same training run, which fetches its samples.
# Reports the requests and bytes the server answered for each command (radosgw's access log),
# the bytes each clone holds afterwards, wall time and max RSS of each command, and the
# lazy/full ratio of bytes fetched (target <= 0.10), and checks that the two runs recorded
# the same sample digests and metrics.
# usage: bench/lazy_bench.sh   (env: COUNT=70000, BENCH_DIR=/tmp/vrepo-lazy-bench, KEEP=0)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
require /usr/bin/time

count=${COUNT:-70000}
dir=${BENCH_DIR:-/tmp/vrepo-lazy-bench}
rm -rf "$dir"
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
vrepo() { "$VREPO_BIN" "$@"; }
cleanup() {
  bash "$bench_root/tests/s3/s3_server.sh" stop "$dir/s3" >/dev/null 2>&1 || true
  [[ "${KEEP:-0}" == 1 ]] || rm -rf "$dir"
}
trap cleanup EXIT

echo "Starting the S3 server (radosgw) ..." >&2
bash "$bench_root/tests/s3/s3_server.sh" start "$dir/s3" >&2
set -a
# shellcheck disable=SC1091
source "$dir/s3/env"
set +a
# shellcheck disable=SC2034 # read by requests_since (common.sh)
rgw_log=$dir/s3/log/client.rgw.vrepo.log

echo "Exporting $count Fashion-MNIST images and pushing them (not timed) ..." >&2
src=$dir/src
"$VREPO_EXPORT_BIN" --out "$src" --split all --limit "$count" >/dev/null
awk 'NR == 1 || NR % 20 == 2' "$src/labels.csv" >"$src/subset.csv"
subset=$(($(wc -l <"$src/subset.csv") - 1))
vrepo -C "$src" init >/dev/null
vrepo -C "$src" add . >/dev/null
vrepo -C "$src" commit -m import >/dev/null
url=s3://lazy-bench/fmnist
vrepo -C "$src" remote add origin "$url"
vrepo -C "$src" push origin >/dev/null 2>&1

# run LABEL CMD...: runs CMD under /usr/bin/time; prints "seconds max_rss_kib".
run() {
  local label=$1 log
  shift
  log=$dir/$label.log
  if ! /usr/bin/time -f '%e %M' -o "$dir/$label.time" "$@" >"$log" 2>&1; then
    echo "bench: $label failed:" >&2
    tail -n 20 "$log" >&2
    exit 1
  fi
  cat "$dir/$label.time"
}
bytes_of() { du -sb "$1" | cut -f1; }
train_args=(train --labels subset.csv --val-split 0.1 --epochs 1 --model small-cnn --seed 3
  --name five-percent --deterministic)

n=$(log_lines)
read -r full_clone_s full_clone_rss < <(run full-clone "$VREPO_BIN" clone "$url" "$dir/full")
read -r full_clone_req full_clone_bytes < <(requests_since "$n")
n=$(log_lines)
read -r full_train_s full_train_rss < <(cd "$dir/full" && run full-train "$VREPO_BIN" "${train_args[@]}")
read -r full_train_req full_train_bytes < <(requests_since "$n")
n=$(log_lines)
read -r lazy_clone_s lazy_clone_rss < <(run lazy-clone "$VREPO_BIN" clone --lazy "$url" "$dir/lazy")
read -r lazy_clone_req lazy_clone_bytes < <(requests_since "$n")
# What the lazy clone's bytes are: the history (trees and one pointer per file), the pack
# indexes (48 bytes per object), the rest (label tables, refs, listings).
body_bytes_since() {
  tail -n "+$(($1 + 1))" "$rgw_log" | grep -E "$2" | awk '/ beast: .* HTTP\/1\.1" / {
      for (i = 1; i <= NF; i++) if ($i ~ /HTTP\/1\.1"$/) { b += $(i + 2); break } }
      END { printf "%d\n", b }'
}
lazy_history_bytes=$(body_bytes_since "$n" 'GET [^ ]*/history/')
lazy_index_bytes=$(body_bytes_since "$n" 'GET [^ ]*/packs/[0-9a-f]*\.idx')
lazy_after_clone=$(bytes_of "$dir/lazy/.vrepo")
n=$(log_lines)
read -r lazy_train_s lazy_train_rss < <(cd "$dir/lazy" && run lazy-train "$VREPO_BIN" "${train_args[@]}")
read -r lazy_train_req lazy_train_bytes < <(requests_since "$n")

full_bytes=$(bytes_of "$dir/full/.vrepo")
lazy_bytes=$(bytes_of "$dir/lazy/.vrepo")
full_packs=$(bytes_of "$dir/full/.vrepo/objects")
lazy_packs=$(bytes_of "$dir/lazy/.vrepo/objects")
history_bytes=$(bytes_of "$dir/lazy/.vrepo/meta")
absent=$(vrepo -C "$dir/lazy" fsck --json | sed -n 's/.*"absent":\([0-9]*\).*/\1/p')
# The run records, less when they were made and how fast.
strip() { grep -v -E '"(commit|date|time|seconds|images_per_second)":'; }
same=no
if diff <(vrepo -C "$dir/full" runs show five-percent --json | strip) \
  <(vrepo -C "$dir/lazy" runs show five-percent --json | strip) >/dev/null; then
  same=yes
fi
full_fetched=$((full_clone_bytes + full_train_bytes))
lazy_fetched=$((lazy_clone_bytes + lazy_train_bytes))
ratio_bytes=$(ratio "$lazy_fetched" "$full_fetched")

machine_line "$dir"
echo "Fashion-MNIST: $count images in $url; training table: $subset rows (5%), small-cnn, 1 epoch"
printf '%-34s %12s %12s %12s\n' "" "full clone" "lazy clone" "lazy/full"
printf '%-34s %12s %12s %12s\n' "clone: requests, bytes fetched" "$full_clone_req, $full_clone_bytes" "$lazy_clone_req, $lazy_clone_bytes" "$(ratio "$lazy_clone_bytes" "$full_clone_bytes")"
printf '%-34s %12s %12s\n' "train: requests, bytes fetched" "$full_train_req, $full_train_bytes" "$lazy_train_req, $lazy_train_bytes"
printf '%-34s %12s %12s %12s\n' "clone + train: bytes fetched" "$full_fetched" "$lazy_fetched" "$ratio_bytes"
printf '%-34s %12s %12s %12s\n' "clone: seconds" "$full_clone_s" "$lazy_clone_s" "$(ratio "$lazy_clone_s" "$full_clone_s")"
printf '%-34s %12s %12s\n' "clone: max RSS (KiB)" "$full_clone_rss" "$lazy_clone_rss"
printf '%-34s %12s %12s %12s\n' "train: seconds" "$full_train_s" "$lazy_train_s" "$(ratio "$lazy_train_s" "$full_train_s")"
printf '%-34s %12s %12s\n' "train: max RSS (KiB)" "$full_train_rss" "$lazy_train_rss"
printf '%-34s %12s %12s\n' ".vrepo bytes right after clone" "$full_bytes" "$lazy_after_clone"
printf '%-34s %12s %12s %12s\n' ".vrepo bytes after training" "$full_bytes" "$lazy_bytes" "$(ratio "$lazy_bytes" "$full_bytes")"
printf '%-34s %12s %12s %12s\n' "  of which packs (contents)" "$full_packs" "$lazy_packs" "$(ratio "$lazy_packs" "$full_packs")"
printf '%-34s %12s %12s\n' "  of which history (.vrepo/meta)" "-" "$history_bytes"
echo "lazy clone's bytes: history $lazy_history_bytes, pack indexes $lazy_index_bytes, the rest $((lazy_clone_bytes - lazy_history_bytes - lazy_index_bytes))"
floor=$((lazy_history_bytes + lazy_index_bytes))
echo "beyond history and indexes (which every clone reads): lazy/full $(ratio $((lazy_fetched - floor)) $((full_fetched - floor)))"
echo "objects still absent from the lazy clone after training: $absent of $((count + 2))"
echo "run records identical (but for timings): $same"
echo "target lazy/full bytes fetched <= 0.10: $(verdict "$ratio_bytes" "<=" 0.10)"
[[ "$same" == yes ]] || exit 1
