#!/usr/bin/env bash
# Scale benchmark: N small synthetic files (unique contents, 40-300 bytes) in 1,000 folders;
# times `vrepo add .` and `vrepo commit -m x` with /usr/bin/time -v (wall seconds, peak RSS).
# With several sizes it prints the time ratio of the largest to the smallest: linear scaling
# gives the ratio of the sizes (10 for 1,000,000 vs 100,000). Not part of ctest.
# usage: bench/million_files.sh [N...]   (default: 100000 1000000; env BENCH_DIR, KEEP=0)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
require perl
[[ -x /usr/bin/time ]] || { echo "bench: /usr/bin/time is missing; run ./setup.sh --bench" >&2; exit 1; }

sizes=("$@")
((${#sizes[@]})) || sizes=(100000 1000000)
base=${BENCH_DIR:-/tmp/vrepo-bench}/million
mkdir -p "$base"
base=$(cd "$base" && pwd)

# Writes n files as d000/f0000000.txt ... spread over 1,000 folders (perl: fast and in
# Debian's base system).
generate() {
  local dir=$1 n=$2
  perl -e '
    my ($dir, $n) = @ARGV;
    mkdir sprintf("%s/d%03d", $dir, $_) for 0 .. 999;
    for my $i (0 .. $n - 1) {
      my $path = sprintf("%s/d%03d/f%07d.txt", $dir, $i % 1000, $i);
      open(my $f, ">", $path) or die "$path: $!\n";
      print $f "sample $i label ", $i % 10, "\n", "x" x (40 + ($i * 7919) % 260), "\n";
      close($f) or die "$path: $!\n";
    }' "$dir" "$n"
}

# Runs a vrepo command under /usr/bin/time -v; prints "seconds peak_kib".
timed() {
  local report=$base/time.txt
  if ! /usr/bin/time -v -o "$report" "$VREPO_BIN" "$@" >"$base/out.txt" 2>&1; then
    echo "bench: failed: vrepo $*" >&2
    tail -n 20 "$base/out.txt" >&2
    exit 1
  fi
  awk -F': ' '
    /Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i] }
    /Maximum resident set size/ { rss = $2 }
    END { printf "%.2f %d\n", s, rss }' "$report"
}

rows=()
declare -A total
for n in "${sizes[@]}"; do
  tree=$base/n$n
  rm -rf "$tree"
  mkdir -p "$tree"
  echo "generating $n files in $tree ..." >&2
  gen=$(seconds generate "$tree" "$n")
  "$VREPO_BIN" -C "$tree" init >/dev/null
  result=$(cd "$tree" && timed add .)
  read -r t_add rss_add <<<"$result"
  result=$(cd "$tree" && timed commit -m x)
  read -r t_commit rss_commit <<<"$result"
  total[$n]=$(awk -v a="$t_add" -v b="$t_commit" 'BEGIN { printf "%.2f", a + b }')
  store=$(size_of "$tree/.vrepo")
  rows+=("| $n | $t_add s | $((rss_add / 1024)) MiB | $t_commit s | $((rss_commit / 1024)) MiB | ${total[$n]} s | $store | $gen s |")
  echo "n=$n: add ${t_add}s commit ${t_commit}s" >&2
done

echo
machine_line "$base"
echo
echo "| Files | vrepo add . | peak RSS (add) | vrepo commit | peak RSS (commit) | add + commit | .vrepo size | (generating the files) |"
echo "|---|---|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
if ((${#sizes[@]} > 1)); then
  small=$(printf '%s\n' "${sizes[@]}" | sort -n | head -1)
  large=$(printf '%s\n' "${sizes[@]}" | sort -n | tail -1)
  echo
  echo "Scaling: time($large) / time($small) = $(ratio "${total[$large]}" "${total[$small]}")" \
    "(linear: $(ratio "$large" "$small"))"
fi

if [[ "${KEEP:-0}" != 1 ]]; then
  echo "Removing $base (slow where the file system discards blocks on unlink; KEEP=1 keeps it) ..." >&2
  rm -rf "$base"
fi
