#!/usr/bin/env bash
# Data-parallel training benchmark (issue 18): images/s of `vrepo train --nproc N` (N local
# ranks, c10d Gloo on the CPU) for 1, 2 and, where the cores allow, 4 ranks, against PyTorch's
# own DistributedDataParallel (gloo, CPU) started by Debian's torchrun (bench/pytorch_ddp.py):
# the same models, the same Fashion-MNIST PNGs (the DDP side through a class-folder view of
# symlinks, as bench/train_bench.sh), the same global batch, compute threads and loader workers
# per rank, one epoch, the two sides and the rank counts alternating run by run. Prints both
# sides' img/s (the whole job's), vrepo / DDP, and each side's scaling efficiency
# ips(N) / (N * ips(1)). Targets: efficiency >= 90% per added rank where the machine has the
# cores, and at least DDP's img/s. Not part of ctest.
# usage: bench/dist_bench.sh
#   env: N=10000 training images for small-cnn (28 px), RESNET_N=2000 for resnet18 (64 px),
#        BATCH=128 (global: each rank steps on BATCH/ranks), THREADS_PER_RANK=1 compute threads
#        per rank (OMP_NUM_THREADS, both sides), WORKERS=1 loader threads per rank (vrepo) /
#        DataLoader worker processes per rank (DDP), RANKS="1 2" (4 added when
#        nproc >= 4 * THREADS_PER_RANK), MODELS="small-cnn resnet18", TEST_N=500 validation
#        images (untimed), RUNS=3 (median of RUNS; RUNS=1 for a quick look),
#        LANES="vrepo ddp" (LANES=ddp runs PyTorch's side alone), BENCH_DIR=/tmp/vrepo-bench,
#        KEEP=0
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
# GNU nproc reports OMP_NUM_THREADS when it is set; each run gets its own below, and the core
# counts here (and in machine_line) must be the machine's.
unset OMP_NUM_THREADS OMP_THREAD_LIMIT
require jq /usr/bin/python3 /usr/bin/torchrun
/usr/bin/python3 -c 'import torch, torchvision' 2>/dev/null ||
  { echo "bench: python3-torch and python3-torchvision are missing; run ./setup.sh" >&2; exit 1; }

n=${N:-10000}
resnet_n=${RESNET_N:-2000}
batch=${BATCH:-128}
threads=${THREADS_PER_RANK:-1}
workers=${WORKERS:-1}
test_n=${TEST_N:-500}
runs=${RUNS:-3}
models=${MODELS:-small-cnn resnet18}
lanes=${LANES:-vrepo ddp}
if [[ -n "${RANKS:-}" ]]; then
  read -r -a ranks <<<"$RANKS"
else
  ranks=(1 2)
  (($(nproc) >= 4 * threads)) && ranks+=(4)
fi
for r in "${ranks[@]}"; do
  ((batch % r == 0)) || { echo "bench: BATCH=$batch is not a multiple of $r ranks" >&2; exit 1; }
done
has_lane() { [[ " $lanes " == *" $1 "* ]]; }
for lane in $lanes; do
  [[ $lane == vrepo || $lane == ddp ]] ||
    { echo "bench: LANES: $lane is not vrepo or ddp" >&2; exit 1; }
done
# model_size MODEL: the image side train_bench.sh trains MODEL at.
model_size() {
  case $1 in
    small-cnn) echo 28 ;;
    resnet18) echo 64 ;;
    *) echo "bench: MODELS: $1 is not small-cnn or resnet18" >&2; return 1 ;;
  esac
}
for model in $models; do model_size "$model" >/dev/null; done
if has_lane vrepo && ! "$VREPO_BIN" train --help 2>/dev/null | grep -q -- --nproc; then
  echo "bench: $VREPO_BIN has no \`train --nproc\`; build issue 18's trainer or set LANES=ddp" >&2
  exit 1
fi
dir=${BENCH_DIR:-/tmp/vrepo-bench}/dist
rm -rf "$dir"
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
repo=$dir/repo
ddp_script=$bench_root/bench/pytorch_ddp.py
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

# --- data ------------------------------------------------------------------------------------
train_n=$((n > resnet_n ? n : resnet_n))
echo "Exporting $train_n training and $test_n test images into $repo ..." >&2
"$VREPO_EXPORT_BIN" --out "$repo" --split train --limit "$train_n" >/dev/null
mv "$repo/labels.csv" "$repo/train-all.csv"
"$VREPO_EXPORT_BIN" --out "$repo" --split test --limit "$test_n" >/dev/null
mv "$repo/labels.csv" "$repo/test.csv"
head -n $((n + 1)) "$repo/train-all.csv" >"$repo/train-small-cnn.csv"
head -n $((resnet_n + 1)) "$repo/train-all.csv" >"$repo/train-resnet18.csv"
# The ceiling runs' data: each model's table cut into r parts (every r-th row).
for model in $models; do
  for r in "${ranks[@]}"; do
    for ((k = 0; k < r; k++)); do
      awk -v r="$r" -v k="$k" 'NR == 1 || (NR - 2) % r == k' "$repo/train-$model.csv" \
        >"$repo/train-$model-part$k-of$r.csv"
    done
  done
done
if has_lane vrepo; then
  "$VREPO_BIN" -C "$repo" init >/dev/null
  "$VREPO_BIN" -C "$repo" add . >/dev/null
  "$VREPO_BIN" -C "$repo" commit -m "Fashion-MNIST for dist_bench" >/dev/null
fi
/usr/bin/python3 "$bench_root/bench/class_view.py" "$repo" "$dir/view" \
  small-cnn=train-small-cnn.csv resnet18=train-resnet18.csv test=test.csv

# --- runs ------------------------------------------------------------------------------------
# vrepo_ips NAME MODEL SIZE RANKS: one epoch of `vrepo train --nproc RANKS`; prints
# "img/s val_acc" of the job.
vrepo_ips() {
  local name=$1 model=$2 size=$3 nranks=$4 out
  out=$(OMP_NUM_THREADS=$threads "$VREPO_BIN" -C "$repo" train --labels "train-$model.csv" \
    --val test.csv --model "$model" --image-size "$size" --epochs 1 --batch-size "$batch" \
    --workers "$workers" --device cpu --precision fp32 --nproc "$nranks" --name "$name" --json \
    2>"$dir/$name.log") ||
    { echo "bench: vrepo train $name failed:" >&2; tail -n 5 "$dir/$name.log" >&2; exit 1; }
  # One rank may run without the distributed object; more must say they ran that many.
  jq -e --argjson n "$nranks" '(.distributed.world_size // 1) == $n' <<<"$out" >/dev/null ||
    { echo "bench: vrepo train $name: run record's distributed.world_size is not $nranks" >&2
      exit 1; }
  jq -r '.epochs[0] | "\(.images_per_second) \(.val_accuracy)"' <<<"$out"
}
# ddp_ips NAME MODEL SIZE RANKS: one epoch of bench/pytorch_ddp.py under torchrun; prints
# "img/s val_acc" of the job. Debian's torchrun (torch 1.13 on Python 3.11) fails on its own
# defaults: Std.from_str("0") finds no member, since 3.11's IntFlag iteration skips the zero
# flag, and to_map then calls .get on None. --redirects 1 --tee 1 avoids the zero: stdout goes
# to a log under --log_dir and to the console, each line prefixed with "[default<rank>]:".
ddp_ips() {
  local name=$1 model=$2 size=$3 nranks=$4 out
  out=$(OMP_NUM_THREADS=$threads /usr/bin/torchrun --standalone --nproc_per_node "$nranks" \
    --redirects 1 --tee 1 --log_dir "$dir/torchrun-$name" "$ddp_script" \
    --train "$dir/view/$model" --test "$dir/view/test" --model "$model" --image-size "$size" \
    --batch-size "$batch" --threads "$threads" --workers "$workers" --epochs 1 \
    2>"$dir/$name.log") ||
    { echo "bench: pytorch_ddp.py $name failed:" >&2; tail -n 5 "$dir/$name.log" >&2; exit 1; }
  sed -n 's/^\[[^]]*\]://; /^{/p' <<<"$out" | jq -r --argjson n "$nranks" \
    'if .world_size != $n then error("world_size \(.world_size), not \($n)") else
       "\(.images_per_second[0]) \(.val_accuracy)" end'
}

# ceiling_ips NAME MODEL SIZE RANKS: RANKS independent single-process runs at once, each on
# its 1/RANKS of the data with BATCH/RANKS and the same threads as a rank: what RANKS processes
# of this shape get from this machine with no communication at all (the hardware's ceiling for
# RANKS ranks); prints their summed img/s.
ceiling_ips() {
  local name=$1 model=$2 size=$3 nranks=$4 k pids=() total=0
  for ((k = 0; k < nranks; k++)); do
    OMP_NUM_THREADS=$threads "$VREPO_BIN" -C "$repo" --wait train \
      --labels "train-$model-part$k-of$nranks.csv" --val test.csv --model "$model" \
      --image-size "$size" --epochs 1 --batch-size $((batch / nranks)) --workers "$workers" \
      --device cpu --precision fp32 --name "$name-$k" --json \
      >"$dir/$name-$k.json" 2>"$dir/$name-$k.log" &
    pids+=($!)
  done
  for ((k = 0; k < nranks; k++)); do
    wait "${pids[$k]}" ||
      { echo "bench: vrepo train $name-$k failed:" >&2; tail -n 5 "$dir/$name-$k.log" >&2; exit 1; }
    total=$(awk -v t="$total" -v v="$(jq '.epochs[0].images_per_second' "$dir/$name-$k.json")" \
      'BEGIN { print t + v }')
  done
  echo "$total 0"
}

declare -A ips acc
for model in $models; do
  size=$(model_size "$model")
  for ((i = 0; i < runs; i++)); do
    # Sides and rank counts alternate, so all see the same load of the machine.
    for r in "${ranks[@]}"; do
      for lane in $lanes; do
        echo "$model, $r rank(s), run $((i + 1))/$runs: $lane ..." >&2
        out=$("${lane}_ips" "$lane-$model-n$r-$i" "$model" "$size" "$r")
        read -r v a <<<"$out"
        ips[$lane,$model,$r]+="$v "
        acc[$lane,$model,$r]=$a
      done
      if has_lane vrepo && ((r > 1)); then
        echo "$model, $r rank(s), run $((i + 1))/$runs: ceiling ..." >&2
        read -r v a <<<"$(ceiling_ips "ceiling-$model-n$r-$i" "$model" "$size" "$r")"
        ips[ceiling,$model,$r]+="$v "
      fi
    done
  done
done
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

# --- report ----------------------------------------------------------------------------------
cell() {
  local -a runs_ips
  read -r -a runs_ips <<<"${ips[$1]:-}"
  if ((${#runs_ips[@]})); then median "${runs_ips[@]}"; else echo 0; fi
}
pct() {
  awk -v v="$1" 'BEGIN { if (v !~ /^[0-9.]+$/) print "n/a"; else printf "%.0f%%\n", 100 * v }'
}
# efficiency LANE MODEL RANKS: ips(RANKS) / (RANKS * ips(1)).
efficiency() {
  local one
  one=$(cell "$1,$2,1")
  awk -v v="$(cell "$1,$2,$3")" -v o="$one" -v r="$3" \
    'BEGIN { if (o > 0 && v > 0) printf "%.3f\n", v / (r * o); else print "n/a" }'
}
rows=()
for model in $models; do
  for r in "${ranks[@]}"; do
    v=$(cell "vrepo,$model,$r")
    d=$(cell "ddp,$model,$r")
    ve=$(efficiency vrepo "$model" "$r")
    de=$(efficiency ddp "$model" "$r")
    rt=$(ratio "$v" "$d")
    c=$(cell "ceiling,$model,$r")
    vc=n/a
    [[ $c != 0 && $v != 0 ]] && vc=$(awk -v v="$v" -v c="$c" 'BEGIN { printf "%.3f\n", v / c }')
    [[ $v == 0 ]] && rt=n/a
    # The efficiency target counts only where the ranks' compute threads fit the cores.
    if [[ $rt == n/a ]]; then
      target=n/a
    elif ((r == 1)) || [[ $ve == n/a ]] || ((r * threads > $(nproc))); then
      target="$(verdict "$rt" '>=' 1) (ratio)"
    elif [[ $(verdict "$rt" '>=' 1) == met && $(verdict "$ve" '>=' 0.9) == met ]]; then
      target=met
    else
      target=MISSED
    fi
    rows+=("$(printf '| %s (%s px) | %s | %.0f | %.0f | %s | %s | %s | %s | %s | %s / %s |' \
      "$model" "$(model_size "$model")" "$r" "$v" "$d" \
      "$([[ $rt == n/a ]] && echo n/a || echo "${rt}x")" "$(pct "$ve")" "$(pct "$de")" \
      "$([[ $vc == n/a ]] && echo - || echo "$(pct "$vc") of $(printf '%.0f' "$c")")" \
      "$target" "$(pct "${acc[vrepo,$model,$r]:-n/a}")" "$(pct "${acc[ddp,$model,$r]:-n/a}")")")
    for lane in $lanes; do
      echo "$model $r rank(s) $lane img/s: ${ips[$lane,$model,$r]}" >&2
    done
  done
done

echo
machine_line "$dir"
echo "Load average at the start: $load_start; after the last run: $load_end"
echo "CPU ceiling: $(nproc) cores. Each rank runs $threads compute thread(s) and $workers loader" \
  "thread(s) / worker process(es), so N ranks keep N x $((threads + workers)) threads busy on" \
  "$(nproc) cores; the efficiency target counts where N x $threads compute threads fit the" \
  "cores (4 ranks run only where nproc >= 4 x THREADS_PER_RANK). Debian's" \
  "torch $(/usr/bin/python3 -c 'import torch; print(torch.__version__)') on the DDP side."
echo
echo "Data: Fashion-MNIST 28x28 gray PNGs: the first $n training images for small-cnn (28 px)," \
  "the first $resnet_n for resnet18 (64 px), $test_n test images as validation (not timed)." \
  "1 epoch per run, global batch $batch (BATCH / ranks per rank and step), fp32, AdamW lr 1e-3," \
  "channels_last; per rank $threads compute thread(s) (OMP_NUM_THREADS=$threads) and $workers" \
  "vrepo loader thread(s) / DataLoader worker process(es). vrepo: \`vrepo train --nproc N\`" \
  "(Gloo on the CPU; --nproc 1 is its single-process trainer). DDP: bench/pytorch_ddp.py" \
  "under \`torchrun --standalone --nproc_per_node N\`, DistributedDataParallel (gloo)," \
  "DistributedSampler, ImageFolder over the same PNGs. img/s = the job's training images /" \
  "seconds of the epoch's training loop (vrepo: rank 0's clock from its epoch start; DDP: from" \
  "a barrier to the slowest rank's last step); efficiency = img/s(N) / (N x img/s(1)) of the" \
  "same side; median of $runs run(s), sides and rank counts alternating."
echo
echo "Ceiling: N independent single-process vrepo runs at once, each on 1/N of the data with" \
  "BATCH/N and a rank's threads, img/s summed: N processes of a rank's shape with no" \
  "communication, what the machine allows N ranks."
echo
echo "| Model | ranks | vrepo img/s | DDP img/s | vrepo / DDP | vrepo efficiency |" \
  "DDP efficiency | vrepo / ceiling (img/s) | target (efficiency >= 90%, >= DDP) |" \
  "val acc vrepo / DDP |"
echo "|---|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"

if [[ "${KEEP:-0}" != 1 ]]; then
  rm -rf "$dir"
fi
