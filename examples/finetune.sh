#!/usr/bin/env bash
# Fine-tuning with provenance: pretrain small-cnn on Fashion-MNIST classes 0-4 (tshirt ..
# coat), then learn classes 5-9 (sandal .. ankle_boot) from only 500 images, once starting from
# the pretrained run and once from scratch, and compare accuracy on the test images of 5-9.
# The fine-tuned run's record names the pretraining run as its second parent.
# usage: examples/finetune.sh [FOLDER]    (default ./finetune-run; removed first if it is an
# earlier run of this script). VREPO_BIN and VREPO_EXPORT_BIN override the binaries' paths;
# EPOCHS (default 3) sets the fine-tune epochs.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
dir=$(fresh_run_folder "${1:-./finetune-run}" .vrepo)
epochs=${EPOCHS:-3}
cd "$dir"

echo "== Export 10,000 training and 2,000 test images"
scratch=$(mktemp -d /tmp/vrepo-finetune.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
"$export_bin" --out "$scratch" --split test --limit 2000 >/dev/null
mkdir -p images
mv "$scratch/images/test" images/test
mv "$scratch/labels.csv" test.csv
"$export_bin" --out . --split train --limit 10000 >/dev/null

# Tables by class: the first five classes, and the last five (500 training images of them).
first='^[^,]*,(tshirt|trouser|pullover|dress|coat)$'
last='^[^,]*,(sandal|shirt|sneaker|bag|ankle_boot)$'
{ echo path,label; grep -E "$first" labels.csv; } >pretrain.csv
{ echo path,label; grep -E "$last" labels.csv | awk 'NR <= 500'; } >finetune.csv
{ echo path,label; grep -E "$first" test.csv; } >test-first.csv
{ echo path,label; grep -E "$last" test.csv; } >test-last.csv
echo "pretrain.csv: $(($(wc -l <pretrain.csv) - 1)) images of classes 0-4;" \
  "finetune.csv: $(($(wc -l <finetune.csv) - 1)) images of classes 5-9"

run vrepo init
vrepo add . >/dev/null
run vrepo commit -m "Fashion-MNIST: 10,000 training and 2,000 test images, tables by class"

echo
echo "== Pretrain on classes 0-4"
run vrepo train --labels pretrain.csv --val test-first.csv --epochs 2 --seed 1 --name pretrain

echo
echo "== Classes 5-9 from 500 images: from the pretrained run, and from scratch"
common=(--labels finetune.csv --val test-last.csv --epochs "$epochs" --seed 1)
run vrepo train "${common[@]}" --base run:pretrain --name finetune
run vrepo train "${common[@]}" --name scratch

echo
run vrepo runs
accuracy() {
  vrepo runs show "$1" --json | python3 -c 'import json,sys; print("%.2f" % (100 * json.load(sys.stdin)["best_val_accuracy"]))'
}
tuned=$(accuracy finetune)
fresh=$(accuracy scratch)
echo
echo "classes 5-9, 500 training images, $epochs epochs: fine-tuned ${tuned}%, from scratch ${fresh}%"

pretrain=$(vrepo rev-parse refs/runs/pretrain)
parents=$(git --git-dir .vrepo/meta log -1 --format=%P refs/runs/finetune 2>/dev/null ||
  vrepo runs show finetune --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["base"]["run_commit"])')
if [[ " $parents " == *" $pretrain "* ]]; then
  echo "OK: the fine-tuned run's record links to the pretraining run ($pretrain)"
else
  echo "FAIL: refs/runs/finetune does not name the pretraining run as a parent" >&2
  exit 1
fi
if python3 -c "import sys; sys.exit(0 if $tuned > $fresh else 1)"; then
  echo "OK: fine-tuning beats training from scratch"
else
  echo "NOTE: fine-tuning did not beat training from scratch this time" >&2
  exit 1
fi
