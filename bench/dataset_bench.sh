#!/usr/bin/env bash
# Dataset-scale benchmark: a label table of N rows (default 1,000,000) over N distinct real
# Fashion-MNIST PNGs (50,000 training images written 20 times, each copy made distinct by one
# pixel). Times `vrepo dataset check`, `stats`, `diff` (after relabeling 1% and removing 0.1%
# of the rows) and `split` (plain and --stratify) against the issue's target of 10 s each, on
# CSV and on JSONL. Python's csv module reading the same table is printed as a reference.
# Not part of ctest. usage: bench/dataset_bench.sh [ROWS]  (env BENCH_DIR, KEEP=1 keeps files)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
require awk

rows=${1:-1000000}
copies=$(((rows + 49999) / 50000))
originals=$((rows / copies))
work=${BENCH_DIR:-/tmp/vrepo-bench}/dataset-$rows
rm -rf "$work"
mkdir -p "$work"
work=$(cd "$work" && pwd)
cd "$work"

echo "== exporting $((originals * copies)) PNGs ($originals images x $copies copies)"
t_export=$(seconds "$VREPO_EXPORT_BIN" --out . --split train --limit "$originals" --copies "$copies")
# labels.jsonl: the same rows as JSON lines.
awk -F, 'NR > 1 { printf "{\"path\": \"%s\", \"label\": \"%s\"}\n", $1, $2 }' labels.csv >labels.jsonl
"$VREPO_BIN" init >/dev/null
t_import=$(seconds sh -c "'$VREPO_BIN' add . && '$VREPO_BIN' commit -m import")

# Version 2: every 100th row relabeled to the next class name, every 1000th row removed.
awk -F, 'BEGIN { n = split("tshirt trouser pullover dress coat sandal shirt sneaker bag ankle_boot", list, " ")
                 for (i = 1; i <= n; i++) next_of[list[i]] = list[i % n + 1] }
         NR == 1 { print; next }
         NR % 1000 == 0 { next }
         NR % 100 == 0 { print $1 "," next_of[$2]; next }
         { print }
' labels.csv >labels.v2.csv
mv labels.v2.csv labels.csv
awk -F, 'NR > 1 { printf "{\"path\": \"%s\", \"label\": \"%s\"}\n", $1, $2 }' labels.csv >labels.jsonl
"$VREPO_BIN" add labels.csv labels.jsonl >/dev/null
"$VREPO_BIN" commit -m relabel >/dev/null

run() {  # name, then the vrepo arguments
  local name=$1
  shift
  local t
  t=$(seconds "$VREPO_BIN" "$@")
  printf '%-34s %8.3f s  %s\n' "$name" "$t" "$(awk -v t="$t" 'BEGIN { print (t < 10 ? "met (< 10 s)" : "MISSED (>= 10 s)") }')"
}

echo
machine_line "$work"
echo "Rows: $(($(wc -l <labels.csv) - 1)) in HEAD's labels.csv, $((originals * copies)) in HEAD~1's"
printf 'export %.1f s, vrepo add+commit of the images %.1f s (not targets)\n' "$t_export" "$t_import"
echo
printf '%-34s %10s  %s\n' "operation" "time" "target"
run "dataset check (csv, decodes all)" dataset check --labels labels.csv
run "dataset check (jsonl)" dataset check --labels labels.jsonl
run "dataset stats (csv)" dataset stats --labels labels.csv
run "dataset stats (jsonl)" dataset stats --labels labels.jsonl
run "dataset diff HEAD~1 HEAD (csv)" dataset diff HEAD~1 HEAD --labels labels.csv
run "dataset diff HEAD~1 HEAD (jsonl)" dataset diff HEAD~1 HEAD --labels labels.jsonl
run "dataset split 0.9,0.1" dataset split --labels labels.csv --ratios 0.9,0.1 --seed 1
run "dataset split 0.8,0.1,0.1 --stratify" dataset split --labels labels.csv --ratios 0.8,0.1,0.1 --seed 1 --stratify
if /usr/bin/python3 -c 'import csv' 2>/dev/null; then
  t_py=$(seconds /usr/bin/python3 -c 'import csv,sys; sum(1 for _ in csv.reader(open(sys.argv[1])))' labels.csv)
  printf '%-34s %8.3f s  (reference: only reads the table)\n' "python3 csv.reader over the table" "$t_py"
fi
echo "CSV check (HEAD) problems: $("$VREPO_BIN" dataset check --labels labels.csv --json | grep -o '"ok":[a-z]*')"
cd /
[[ "${KEEP:-0}" == 1 ]] || rm -rf "$work"
