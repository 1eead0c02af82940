# Shared helpers for bench/*.sh (sourced, not run). Wall-clock timing with date +%s.%N,
# medians, and the machine description printed above every table.

bench_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VREPO_BIN=${VREPO_BIN:-$bench_root/build/vrepo}
VREPO_EXPORT_BIN=${VREPO_EXPORT_BIN:-$bench_root/build/examples/vrepo-fmnist-export}

# git needs an identity and must not start a detached auto-gc that would run during later
# measurements.
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.invalid
export GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.invalid
export GIT_CONFIG_COUNT=2
export GIT_CONFIG_KEY_0=gc.auto GIT_CONFIG_VALUE_0=0
export GIT_CONFIG_KEY_1=maintenance.auto GIT_CONFIG_VALUE_1=false

require() {
  local missing=()
  for tool in "$@"; do
    command -v "$tool" >/dev/null || missing+=("$tool")
  done
  if ((${#missing[@]})); then
    echo "bench: missing ${missing[*]}; run ./setup.sh --bench" >&2
    exit 1
  fi
  for bin in "$VREPO_BIN" "$VREPO_EXPORT_BIN"; do
    [[ -x "$bin" ]] || { echo "bench: $bin is missing; run ./setup.sh --bench" >&2; exit 1; }
  done
}

now() { date +%s.%N; }

# Runs "$@" with its output discarded and prints its wall-clock seconds; stops the script when
# the command fails, showing why.
seconds() {
  local start end log
  log=$(mktemp)
  start=$(now)
  if ! "$@" >"$log" 2>&1; then
    echo "bench: failed: $*" >&2
    tail -n 20 "$log" >&2
    rm -f "$log"
    exit 1
  fi
  end=$(now)
  rm -f "$log"
  awk -v s="$start" -v e="$end" 'BEGIN { printf "%.3f\n", e - s }'
}

# Median of the numbers given as arguments.
median() {
  printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
    if (NR % 2) printf "%.3f\n", v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f\n", a / b; else print "n/a" }'; }

# Bytes under a path, human readable.
# verdict VALUE OP TARGET (OP is ">=" or "<="): "met" or "MISSED".
verdict() {
  awk -v v="$1" -v op="$2" -v t="$3" 'BEGIN {
    ok = (op == ">=") ? v >= t : v <= t; print (ok ? "met" : "MISSED") }'
}
size_of() { du -sh "$1" 2>/dev/null | cut -f1; }

machine_line() {
  local cpu mem
  cpu=$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')
  mem=$(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
  echo "Machine: $(nproc) CPUs ($cpu), $mem RAM, $(uname -r), filesystem of the scratch folder:" \
    "$(df -T "${1:-/tmp}" | awk 'NR == 2 { print $2 }'); $(date -u '+%Y-%m-%d %H:%M UTC');" \
    "$("$VREPO_BIN" --version 2>/dev/null || echo "vrepo (version unknown)");" \
    "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
}

# prepared_run NAME I: prep_NAME I (untimed, then sync), then NAME I timed; prints seconds.
prepared_run() {
  "prep_$1" "$2"
  sync
  seconds "$1" "$2"
}

# measure NAME WARMUPS RUNS: for i = 0, 1, ...: prep_NAME i (untimed, then sync) and NAME i,
# WARMUPS times untimed and RUNS times timed; prints the median seconds.
measure() {
  local name=$1 warmups=$2 n=$3 times=() t i
  for ((i = 0; i < warmups + n; i++)); do
    t=$(prepared_run "$name" "$i")
    ((i < warmups)) || times+=("$t")
  done
  echo "$name runs: ${times[*]}" >&2
  median "${times[@]}"
}

# measure_pair A B WARMUPS RUNS: like measure, but alternates A and B run by run, so that
# both see the same state of a disk whose background writeback and discards drift over a
# run; prints "median_A median_B".
measure_pair() {
  local a=$1 b=$2 warmups=$3 n=$4 ta=() tb=() t i
  for ((i = 0; i < warmups + n; i++)); do
    t=$(prepared_run "$a" "$i")
    ((i < warmups)) || ta+=("$t")
    t=$(prepared_run "$b" "$i")
    ((i < warmups)) || tb+=("$t")
  done
  echo "$a runs: ${ta[*]}" >&2
  echo "$b runs: ${tb[*]}" >&2
  echo "$(median "${ta[@]}") $(median "${tb[@]}")"
}

# S3 benches: set rgw_log to radosgw's log (tests/s3/s3_server.sh's DIR/log/client.rgw.vrepo.log).
# Lines in radosgw's log so far; requests_since N prints "REQUESTS BYTES" of the access-log
# lines after line N (BYTES: what radosgw logs per request, the body it received or sent).
log_lines() { wc -l <"$rgw_log"; }
requests_since() {
  local n=$1 size=-1
  # radosgw writes its log asynchronously: wait until it stops growing.
  while [[ $size != $(stat -c %s "$rgw_log") ]]; do
    size=$(stat -c %s "$rgw_log")
    sleep 0.5
  done
  tail -n "+$((n + 1))" "$rgw_log" | awk '/ beast: .* HTTP\/1\.1" / {
      for (i = 1; i <= NF; i++) if ($i ~ /HTTP\/1\.1"$/) { b += $(i + 2); break }
      r++ } END { printf "%d %d\n", r, b }'
}
