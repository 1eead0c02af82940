#!/usr/bin/env bash
# Web view benchmark (issue 19): page 1 of the dataset page of a ROWS-row label table (default
# 1,000,000) through `vrepo ui`, timed with curl: cold (the first request parses the table and
# joins it with the commit's files), then warm (median of 20) after the page's thumbnails were
# fetched once, against the target of 200 ms. Every row is its own path in the tree; the images
# are 1,000 Fashion-MNIST PNGs hard-linked over and over, so the store stays small.
# Not part of ctest. usage: bench/ui_bench.sh [ROWS]  (env BENCH_DIR, KEEP=1 keeps files)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
require awk curl python3

rows=${1:-1000000}
work=${BENCH_DIR:-/tmp/vrepo-bench}/ui-$rows
rm -rf "$work"
mkdir -p "$work"
work=$(cd "$work" && pwd)
cd "$work"

echo "== $rows paths over 1,000 distinct PNGs"
"$VREPO_EXPORT_BIN" --out originals --split train --limit 1000 >/dev/null
mkdir repo
python3 - "$rows" <<'PY'
import csv, os, sys
rows = int(sys.argv[1])
with open("originals/labels.csv") as f:
    originals = list(csv.reader(f))[1:]
with open("repo/labels.csv", "w") as out:
    out.write("path,label\n")
    for i in range(rows):
        src, label = originals[i % len(originals)]
        folder = "images/%04d" % (i // 1000)
        if i % 1000 == 0:
            os.makedirs("repo/" + folder, exist_ok=True)
        path = "%s/%07d.png" % (folder, i)
        os.link("originals/" + src, "repo/" + path)
        out.write("%s,%s\n" % (path, label))
PY
cd repo
"$VREPO_BIN" init >/dev/null
t_import=$(seconds sh -c "'$VREPO_BIN' add . && '$VREPO_BIN' commit -m import")

port=$((20000 + RANDOM % 20000))
"$VREPO_BIN" ui --listen "127.0.0.1:$port" >"$work/ui.out" 2>"$work/ui.err" &
ui_pid=$!
trap 'kill $ui_pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  grep -q '^open ' "$work/ui.out" 2>/dev/null && break
  sleep 0.1
done
token=$(sed -n 's/.*?token=\([0-9a-f]*\).*/\1/p' "$work/ui.out")
[[ -n "$token" ]] || { echo "bench: vrepo ui did not start" >&2; cat "$work/ui.err" >&2; exit 1; }
base="http://127.0.0.1:$port"
page="$base/api/dataset/HEAD?labels=labels.csv&page=1&per_page=60"

get() {  # prints the seconds curl took; fails on a status other than 200
  curl -sS -o "$work/answer" -w '%{http_code} %{time_total}\n' -H "Authorization: Bearer $token" \
    "$1" | awk '$1 != 200 { print "bench: HTTP " $1 > "/dev/stderr"; exit 1 } { print $2 }'
}

t_cold=$(get "$page")
ids=$(python3 -c 'import json,sys; print(" ".join(s["id"] for s in json.load(open(sys.argv[1]))["samples"]))' "$work/answer")
thumb_start=$(now)
for id in $ids; do get "$base/api/thumb/$id" >/dev/null; done
t_thumbs=$(awk -v s="$thumb_start" -v e="$(now)" 'BEGIN { printf "%.3f", e - s }')
warm=()
for _ in $(seq 20); do warm+=("$(get "$page")"); done
t_warm=$(median "${warm[@]}")
filter="$base/api/dataset/HEAD?labels=labels.csv&label=bag&path=0999&page=1"
t_filter=$(get "$filter")
rss=$(awk '/VmHWM/ { printf "%.0f MiB", $2 / 1024 }' "/proc/$ui_pid/status")

echo
machine_line "$work"
printf 'rows %d, vrepo add+commit %.1f s (not a target); answer of page 1: %d bytes\n' \
  "$rows" "$t_import" "$(stat -c %s "$work/answer")"
printf '%-46s %8.3f s\n' "page 1, cold (parse + join, first request)" "$t_cold"
printf '%-46s %8.3f s  (60 thumbnails, sequential)\n' "thumbnails of page 1, first fetch" "$t_thumbs"
printf '%-46s %8.3f s  runs: %s\n' "page 1, warm (median of 20)" "$t_warm" "${warm[*]}"
printf '%-46s %8.3f s\n' "label + path filter, warm (one scan)" "$t_filter"
printf 'peak memory of vrepo ui: %s\n' "$rss"
printf 'warm / 200 ms target: %s (%s)\n' "$(ratio "$t_warm" 0.200)" "$(verdict "$t_warm" "<=" 0.200)"
kill $ui_pid
wait $ui_pid 2>/dev/null || true
trap - EXIT
cd /
[[ "${KEEP:-0}" == 1 ]] || rm -rf "$work"
