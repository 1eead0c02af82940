#!/usr/bin/env bash
# Fine-tuning benchmark (issue 16). Two parts, alternating nothing else on the machine:
#  1. Methods on one task: an imported base (resnet18 pretrained by vrepo on Fashion-MNIST
#     classes 0-4, exported and imported as model:base) adapted to classes 5-9 by a full
#     fine-tune, LoRA rank 8, a linear probe (--freeze backbone) and training from scratch:
#     best validation accuracy, trainable parameters, bytes stored per run, img/s, peak RSS.
#  2. Speed at 224 px: vrepo's full fine-tune of resnet18 and vit_b_16 (torchvision's
#     random-init weights, saved with torch.save and imported) against the same fine-tune in a
#     plain PyTorch script (bench/pytorch_finetune.py: same preprocessing, batch, threads), and
#     against that script with no data at all (the ceiling); and vrepo's LoRA step vs its full
#     step.
# Not part of ctest.
# usage: bench/finetune_bench.sh
#   env: SIZE=64 (part 1 image side), PRE_N=2000 pretraining images, N=500 fine-tuning images,
#        TEST_N=500 validation images, EPOCHS=3, SPEED_N=128 images at 224 px, BATCH=32,
#        THREADS=nproc, BENCH_DIR=/tmp/vrepo-bench, MODELS="resnet18 vit_b_16",
#        SPEED_EPOCHS=1 (part 2 reports each side's median epoch: the first carries oneDNN's
#        kernel creation), PARTS="1 2"
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
require jq /usr/bin/python3 /usr/bin/time
/usr/bin/python3 -c 'import torch, torchvision' 2>/dev/null ||
  { echo "bench: python3-torch and python3-torchvision are missing; run ./setup.sh" >&2; exit 1; }

size=${SIZE:-64}
pre_n=${PRE_N:-2000}
n=${N:-500}
test_n=${TEST_N:-500}
epochs=${EPOCHS:-3}
speed_n=${SPEED_N:-128}
batch=${BATCH:-32}
threads=${THREADS:-$(nproc)}
models=${MODELS:-resnet18 vit_b_16}
speed_epochs=${SPEED_EPOCHS:-1}
parts=${PARTS:-1 2}
dir=${BENCH_DIR:-/tmp/vrepo-bench}/finetune
rm -rf "$dir"
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
repo=$dir/repo
export OMP_NUM_THREADS=$threads
v() { "$VREPO_BIN" -C "$repo" "$@"; }

echo "Exporting Fashion-MNIST into $repo ..." >&2
"$VREPO_EXPORT_BIN" --out "$repo" --split train --limit 20000 >/dev/null
mv "$repo/labels.csv" "$repo/train-all.csv"
"$VREPO_EXPORT_BIN" --out "$repo" --split test --limit 4000 >/dev/null
mv "$repo/labels.csv" "$repo/test-all.csv"
first='^[^,]*,(tshirt|trouser|pullover|dress|coat)$'
last='^[^,]*,(sandal|shirt|sneaker|bag|ankle_boot)$'
table() { { echo path,label; grep -E "$2" "$repo/$1" | awk -v n="$3" 'NR <= n'; } >"$repo/$4"; }
table train-all.csv "$first" "$pre_n" pretrain.csv
table train-all.csv "$last" "$n" target.csv
table test-all.csv "$first" "$test_n" test-old.csv
table test-all.csv "$last" "$test_n" test-new.csv
table train-all.csv "$last" "$speed_n" speed.csv
table test-all.csv "$last" 32 speed-val.csv
v init >/dev/null
v add . >/dev/null
v commit -m "Fashion-MNIST for finetune_bench" >/dev/null

# train_run NAME ARGS...: one `vrepo train` under GNU time; prints "acc trainable bytes img/s rss_mb".
train_run() {
  local name=$1 out
  shift
  out=$(/usr/bin/time -f %M -o "$dir/$name.rss" "$VREPO_BIN" -C "$repo" train --name "$name" \
    --batch-size "$batch" --workers "$threads" --device cpu --json "$@" 2>"$dir/$name.log") ||
    { echo "bench: vrepo train $name failed:" >&2; tail -n 5 "$dir/$name.log" >&2; exit 1; }
  jq -r --arg rss "$(cat "$dir/$name.rss")" '[.best_val_accuracy, .parameters.trainable,
    .weights.size, ([.epochs[].images_per_second] | sort | .[length / 2 | floor]),
    ($rss | tonumber / 1024)] | map(tostring) | join(" ")' <<<"$out"
}

if [[ " $parts " == *" 1 "* ]]; then
  echo "Part 1: pretraining resnet18 at $size px on classes 0-4 ..." >&2
  train_run pretrain --labels pretrain.csv --val test-old.csv --model resnet18 --image-size "$size" \
    --epochs "$epochs" --seed 1 >/dev/null
  v export pretrain --out "$dir/pretrain-export" >/dev/null
  v model import "$dir/pretrain-export/model.safetensors" --arch resnet18 --name base \
    --input-size "$size" --resize $(((size * 256 + 112) / 224)) --classes <(jq -r '.[]' "$dir/pretrain-export/classes.json") \
    >/dev/null

  common=(--labels target.csv --val test-new.csv --epochs "$epochs" --seed 1 --lr 1e-3)
  declare -A row
  row[full]=$(train_run full "${common[@]}" --base model:base)
  row[lora]=$(train_run lora "${common[@]}" --base model:base --lora 8 --retain test-old.csv)
  row[probe]=$(train_run probe "${common[@]}" --base model:base --freeze backbone)
  row[scratch]=$(train_run scratch "${common[@]}" --model resnet18 --image-size "$size")
fi

machine_line
if [[ " $parts " == *" 1 "* ]]; then
  echo
  echo "### Methods: resnet18 at $size px, base pretrained on classes 0-4 ($pre_n images), $n images of classes 5-9, $epochs epochs, batch $batch"
  echo
  echo "| method | best val acc | trainable parameters | bytes stored (weights file) | img/s (median epoch) | peak RSS MB |"
  echo "|---|---|---|---|---|---|"
  for m in full lora probe scratch; do
    read -r acc tr bytes ips rss <<<"${row[$m]}"
    printf '| %s | %.1f%% | %s | %s | %.0f | %.0f |\n' "$m" "$(awk -v a="$acc" 'BEGIN{print 100*a}')" \
      "$tr" "$bytes" "$ips" "$rss"
  done
fi

# --- part 2: speed at 224 px against PyTorch ------------------------------------------------
if [[ " $parts " == *" 2 "* ]]; then
  median='.images_per_second | sort | .[length / 2 | floor]'
  /usr/bin/python3 "$bench_root/bench/class_view.py" "$repo" "$dir/view" speed=speed.csv test=speed-val.csv
  echo
  echo "### Speed at 224 px: $speed_n images, $speed_epochs epoch(s) (median epoch), batch $batch, $threads threads, fp32"
  echo
  echo "| model | vrepo full img/s | PyTorch img/s | vrepo / PyTorch | PyTorch, no data | vrepo / that | vrepo LoRA r8 img/s | LoRA / full |"
  echo "|---|---|---|---|---|---|---|---|"
  for model in $models; do
    /usr/bin/python3 -c "import torch, torchvision; torch.manual_seed(0); \
      torch.save(torchvision.models.$model().state_dict(), '$dir/$model.pth')"
    v model import "$dir/$model.pth" --arch "$model" --name "$model-tv" >/dev/null
    full=$(train_run "speed-$model" --labels speed.csv --val speed-val.csv --base "model:$model-tv" \
      --epochs "$speed_epochs" | awk '{print $4}')
    lora=$(train_run "speed-lora-$model" --labels speed.csv --val speed-val.csv --base "model:$model-tv" \
      --epochs "$speed_epochs" --lora 8 | awk '{print $4}')
    py=$(/usr/bin/python3 "$bench_root/bench/pytorch_finetune.py" --train "$dir/view/speed" \
      --test "$dir/view/test" --model "$model" --base "$dir/$model.pth" --batch-size "$batch" \
      --threads "$threads" --workers "$threads" --epochs "$speed_epochs" | jq "$median")
    ceil=$(/usr/bin/python3 "$bench_root/bench/pytorch_finetune.py" --train "$dir/view/speed" \
      --test "$dir/view/test" --model "$model" --batch-size "$batch" --threads "$threads" \
      --synthetic --epochs "$speed_epochs" | jq "$median")
    printf '| %s | %.1f | %.1f | %sx | %.1f | %sx | %.1f | %sx |\n' "$model" "$full" "$py" \
      "$(ratio "$full" "$py")" "$ceil" "$(ratio "$full" "$ceil")" "$lora" "$(ratio "$lora" "$full")"
  done
fi
