#!/usr/bin/env bash
# Training benchmark (issue 4): images/s of `vrepo train` against the same model in Debian's
# python3-torch with torchvision's ImageFolder + DataLoader reading the exported PNG files
# (bench/pytorch_train.py), same batch size, image size, epochs and thread counts, run
# alternately in the same script, in fp32 and with bf16 autocast on both sides; and the peak RSS of `vrepo train` on 5,000 against all
# 60,000 training images (the loader's memory must not grow with the sample count).
# Not part of ctest.
# usage: bench/train_bench.sh [N]   N training images for the speed runs (default 10000)
#   env: RESNET_N=5000 training images for resnet18 at 64 px (about 10x the compute of
#        small-cnn per image: about 200 img/s on 2 idle cores), BENCH_DIR=/tmp/vrepo-bench,
#        BATCH=128, THREADS=nproc (torch compute threads, both sides),
#        WORKERS=THREADS (vrepo loader threads = DataLoader worker processes),
#        TEST_N=1000 validation images, RUNS=3 (median of RUNS), KEEP=0
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
require jq /usr/bin/python3 /usr/bin/time
/usr/bin/python3 -c 'import torch, torchvision' 2>/dev/null ||
  { echo "bench: python3-torch and python3-torchvision are missing; run ./setup.sh" >&2; exit 1; }

n=${1:-10000}
resnet_n=${RESNET_N:-5000}
batch=${BATCH:-128}
threads=${THREADS:-$(nproc)}
workers=${WORKERS:-$threads}
test_n=${TEST_N:-1000}
runs=${RUNS:-3}
dir=${BENCH_DIR:-/tmp/vrepo-bench}/train
rm -rf "$dir"
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
repo=$dir/repo
pytorch_script=$bench_root/bench/pytorch_train.py
# Both sides compute on the same number of threads: libtorch reads OMP_NUM_THREADS in
# vrepo-train, and the Python script also calls torch.set_num_threads.
export OMP_NUM_THREADS=$threads
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

# --- data: all 60,000 training images (the memory runs need them) and TEST_N test images ---
echo "Exporting 60,000 training and $test_n test images into $repo ..." >&2
"$VREPO_EXPORT_BIN" --out "$repo" --split train >/dev/null
mv "$repo/labels.csv" "$repo/train-all.csv"
"$VREPO_EXPORT_BIN" --out "$repo" --split test --limit "$test_n" >/dev/null
mv "$repo/labels.csv" "$repo/test.csv"
head -n $((n + 1)) "$repo/train-all.csv" >"$repo/train-small-cnn.csv"
head -n $((resnet_n + 1)) "$repo/train-all.csv" >"$repo/train-resnet18.csv"
head -n 5001 "$repo/train-all.csv" >"$repo/train-5k.csv"
"$VREPO_BIN" -C "$repo" init >/dev/null
"$VREPO_BIN" -C "$repo" add . >/dev/null
"$VREPO_BIN" -C "$repo" commit -m "Fashion-MNIST for train_bench" >/dev/null

# ImageFolder wants one folder per class: a view of symlinks to the exported files.
/usr/bin/python3 "$bench_root/bench/class_view.py" "$repo" "$dir/view" \
  small-cnn=train-small-cnn.csv resnet18=train-resnet18.csv test=test.csv

# --- speed -----------------------------------------------------------------------------------
# vrepo_ips NAME MODEL SIZE PRECISION: one epoch of `vrepo train`; prints "img/s val_acc".
vrepo_ips() {
  local name=$1 model=$2 size=$3 precision=$4 out
  out=$("$VREPO_BIN" -C "$repo" train --labels "train-$model.csv" --val test.csv --model "$model" \
    --image-size "$size" --epochs 1 --batch-size "$batch" --workers "$workers" --device cpu \
    --precision "$precision" --name "$name" --json 2>"$dir/$name.log") ||
    { echo "bench: vrepo train $name failed:" >&2; tail -n 5 "$dir/$name.log" >&2; exit 1; }
  jq -r '.epochs[0] | "\(.images_per_second) \(.val_accuracy)"' <<<"$out"
}
# pytorch_run TUNABLES FIELD MODEL SIZE PRECISION [ARGS...]: one epoch of
# bench/pytorch_train.py (bf16 = torch.autocast on the CPU) with ARGS added, under
# GLIBC_TUNABLES (empty: glibc's defaults); prints "img/s FIELD" from its JSON line. With
# --synthetic it trains on one in-memory batch, no loading, and FIELD conv_share is there.
pytorch_run() {
  local tunables=$1 field=$2 model=$3 size=$4 precision=$5 out
  shift 5
  out=$(GLIBC_TUNABLES=$tunables /usr/bin/python3 "$pytorch_script" --train "$dir/view/$model" \
    --test "$dir/view/test" --model "$model" --image-size "$size" --precision "$precision" \
    --batch-size "$batch" --threads "$threads" --workers "$workers" --epochs 1 "$@" \
    2>"$dir/pytorch.log") ||
    { echo "bench: pytorch_train.py $model $* failed:" >&2; tail -n 5 "$dir/pytorch.log" >&2; exit 1; }
  jq -r --arg f "$field" '"\(.images_per_second[0]) \(.[$f])"' <<<"$out"
}

# What vrepo-train sets with mallopt (src/cli/train/main.cc), for a PyTorch run that does the
# same: it shows how much of the ratio is the allocator and how much the rest.
vrepo_malloc=glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=1073741824
rows=() ceiling_rows=()
for spec in "small-cnn 28 fp32" "resnet18 64 fp32" "small-cnn 28 bf16" "resnet18 64 bf16"; do
  read -r model size precision <<<"$spec"
  v_ips=() p_ips=() t_ips=() c_ips=() shares=()
  for ((i = 0; i < runs; i++)); do
    # Alternating, so both sides see the same load of the machine.
    echo "$model at $size px, $precision, run $((i + 1))/$runs: vrepo ..." >&2
    read -r ips v_acc <<<"$(vrepo_ips "$model-$size-$precision-$i" "$model" "$size" "$precision")"
    v_ips+=("$ips")
    echo "$model at $size px, $precision, run $((i + 1))/$runs: PyTorch ..." >&2
    read -r ips p_acc <<<"$(pytorch_run "" val_accuracy "$model" "$size" "$precision")"
    p_ips+=("$ips")
    echo "$model at $size px, $precision, run $((i + 1))/$runs: PyTorch, vrepo's malloc ..." >&2
    read -r ips _ <<<"$(pytorch_run "$vrepo_malloc" val_accuracy "$model" "$size" "$precision")"
    t_ips+=("$ips")
    echo "$model at $size px, $precision, run $((i + 1))/$runs: PyTorch, no data ..." >&2
    read -r ips share <<<"$(pytorch_run "$vrepo_malloc" conv_share "$model" "$size" "$precision" --synthetic)"
    c_ips+=("$ips")
    shares+=("$share")
  done
  echo "$model $precision img/s: vrepo ${v_ips[*]}; PyTorch ${p_ips[*]};" \
    "PyTorch tuned ${t_ips[*]}; PyTorch no data ${c_ips[*]} (conv share ${shares[*]})" >&2
  v=$(median "${v_ips[@]}")
  p=$(median "${p_ips[@]}")
  t=$(median "${t_ips[@]}")
  r=$(ratio "$v" "$p")
  rows+=("$(printf '| %s (%s px) | %s | %.0f | %.0f | %sx | %s | %.0f | %sx | %.1f%% / %.1f%% |' \
    "$model" "$size" "$precision" "$v" "$p" "$r" "$(verdict "$r" '>=' 1.5)" "$t" "$(ratio "$v" "$t")" \
    "$(awk -v a="$v_acc" 'BEGIN { print 100 * a }')" \
    "$(awk -v a="$p_acc" 'BEGIN { print 100 * a }')")")
  c=$(median "${c_ips[@]}")
  share=$(median "${shares[@]}")
  # Were everything but the convolutions free, a step would take only their share of the time.
  bound=$(awk -v c="$c" -v s="$share" 'BEGIN { print c / s }')
  ceiling_rows+=("$(printf '| %s (%s px) | %s | %.0f | %.0f | %.0f%% | %.0f | %sx |' \
    "$model" "$size" "$precision" "$v" "$c" "$(awk -v s="$share" 'BEGIN { print 100 * s }')" \
    "$bound" "$(ratio "$bound" "$p")")")
done

# --- memory ----------------------------------------------------------------------------------
# peak_rss TABLE NAME: small-cnn, 1 epoch on TABLE under /usr/bin/time -v; prints
# "max_rss_kb peak_anon_kb peak_file_kb". RssAnon/RssFile of the trainer are sampled every
# 0.1 s beside GNU time's total, since mapped pack files (RssFile) grow with the data read
# while the loader's own buffers are anonymous memory.
peak_rss() {
  local table=$1 name=$2 tpid child="" pa=0 pf=0 a f
  /usr/bin/time -v -o "$dir/$name.time" "$VREPO_BIN" -C "$repo" train --labels "$table" \
    --val test.csv --model small-cnn --epochs 1 --batch-size "$batch" --workers "$workers" \
    --device cpu --name "$name" >"$dir/$name.log" 2>&1 &
  tpid=$!
  while kill -0 "$tpid" 2>/dev/null; do
    [[ -n "$child" ]] ||
      child=$(awk '{ print $1 }' "/proc/$tpid/task/$tpid/children" 2>/dev/null || true)
    if [[ -n "$child" ]]; then
      read -r a f < <(awk '/RssAnon/ { a = $2 } /RssFile/ { f = $2 } END { print a + 0, f + 0 }' \
        "/proc/$child/status" 2>/dev/null || echo "0 0")
      ((a > pa)) && pa=$a
      ((f > pf)) && pf=$f
    fi
    sleep 0.1
  done
  wait "$tpid" ||
    { echo "bench: vrepo train $name failed:" >&2; tail -n 5 "$dir/$name.log" >&2; exit 1; }
  echo "$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$dir/$name.time") $pa $pf"
}
echo "memory: small-cnn on 5,000 and 60,000 images ..." >&2
read -r m5 a5 f5 <<<"$(peak_rss train-5k.csv mem-5k)"
read -r m60 a60 f60 <<<"$(peak_rss train-all.csv mem-60k)"
mb() { awk -v k="$1" 'BEGIN { printf "%.0f MB", k / 1024 }'; }

# --- report ----------------------------------------------------------------------------------
echo
machine_line "$dir"
echo "Load average at the start: $load_start"
echo
echo "Data: Fashion-MNIST 28x28 gray PNGs: $n training images for small-cnn, $resnet_n for" \
  "resnet18, $test_n test images as validation (not timed). 1 epoch per run, batch $batch," \
  "AdamW lr 1e-3, channels_last, $threads torch compute threads (OMP_NUM_THREADS=$threads)" \
  "on both sides, $workers vrepo loader threads / $workers DataLoader worker processes;" \
  "median of $runs run(s), vrepo and PyTorch alternating. img/s = training images / seconds" \
  "of the epoch's training loop (loader start to last step)."
echo
echo "| Model | precision (both sides) | vrepo img/s | PyTorch img/s | vrepo / PyTorch |" \
  "target >= 1.5x | PyTorch, vrepo's malloc settings | vrepo / that | val acc vrepo / PyTorch |"
echo "|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
echo
echo "The ceiling: bench/pytorch_train.py --synthetic, the same steps on one batch of random" \
  "tensors in memory (no loading; vrepo's malloc settings), and the share of its time that" \
  "torch's profiler puts in the convolutions (forward and backward). No trainer on this" \
  "libtorch passes \"convolutions alone\" = no-data img/s / share."
echo
echo "| Model | precision | vrepo img/s | PyTorch, no data | convolutions' share | convolutions alone img/s | that / PyTorch (the most any trainer could reach) |"
echo "|---|---|---|---|---|---|---|"
printf '%s\n' "${ceiling_rows[@]}"
echo
echo "Peak memory of \`vrepo train\` (small-cnn, 1 epoch, batch $batch):"
echo
echo "| Training images | max RSS (GNU time) | peak RssAnon | peak RssFile |"
echo "|---|---|---|---|"
echo "| 5,000 | $(mb "$m5") | $(mb "$a5") | $(mb "$f5") |"
echo "| 60,000 | $(mb "$m60") | $(mb "$a60") | $(mb "$f60") |"
echo "| difference | $(mb $((m60 - m5))) | $(mb $((a60 - a5))) | $(mb $((f60 - f5))) |"

if [[ "${KEEP:-0}" != 1 ]]; then
  rm -rf "$dir"
fi
