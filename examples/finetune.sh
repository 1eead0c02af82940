#!/usr/bin/env bash
# Fine-tuning as the guides describe it, in the store's terms: version Fashion-MNIST images,
# split the new task, make a base model (no pretrained weights exist offline, so resnet18 is
# pretrained on classes 0-4 here, exported and imported with `vrepo model import` as model
# `base`), fine-tune it on classes 5-9 with LoRA (rank 8) while watching what it still knows of
# classes 0-4 (--retain), against a full fine-tune as the baseline; then export the LoRA run's
# failures, fix the labels they expose (ten training labels are made wrong on purpose first),
# commit, retrain, compare again and export the final model (adapter merged).
# usage: examples/finetune.sh [FOLDER]    (default ./finetune-run; removed first if it is an
# earlier run of this script). VREPO_BIN and VREPO_EXPORT_BIN override the binaries' paths;
# EPOCHS (default 3) sets the fine-tune epochs, SIZE (default 32) the image size.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
dir=$(fresh_run_folder "${1:-./finetune-run}" .vrepo)
epochs=${EPOCHS:-3}
size=${SIZE:-32}
started=$(date +%s)
cd "$dir"

# One value of a run's record (runs show --json), by a Python expression over `r`.
field() {
  vrepo runs show "$1" --json | python3 -c "import json,sys; r=json.load(sys.stdin); print($2)"
}
pct() { python3 -c "print('%.2f' % (100 * $1))"; }
# Accuracy (%) of run $1 on table $2 at HEAD.
eval_accuracy() {
  vrepo eval "$1" --labels "$2" --json | python3 -c 'import json,sys; print("%.2f" % (100 * json.load(sys.stdin)["accuracy"]))'
}
retain_accuracy() {
  field "$1" '"%.2f" % (100 * r["epochs"][r["best_epoch"] - 1]["retain"]["test-old.csv (base head)"]["accuracy"])'
}
fails=0
check() { # check CONDITION(python) OK-TEXT FAIL-TEXT [NOTE]
  if python3 -c "import sys; sys.exit(0 if $1 else 1)"; then
    echo "OK: $2"
  elif [[ "${4:-}" == NOTE ]]; then
    echo "NOTE: $3"
  else
    echo "FAIL: $3" >&2
    fails=$((fails + 1))
  fi
}

echo "== Curate and version: 6,000 training and 2,000 test images"
scratch=$(mktemp -d /tmp/vrepo-finetune.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
"$export_bin" --out "$scratch" --split test --limit 2000 >/dev/null
mkdir -p images
mv "$scratch/images/test" images/test
mv "$scratch/labels.csv" test.csv
"$export_bin" --out . --split train --limit 6000 >/dev/null

# The old task (classes 0-4) and the new one (5-9: 1,000 images, split below).
old='^[^,]*,(tshirt|trouser|pullover|dress|coat)$'
new='^[^,]*,(sandal|shirt|sneaker|bag|ankle_boot)$'
{ echo path,label; grep -E "$old" labels.csv; } >old.csv
{ echo path,label; grep -E "$new" labels.csv | awk 'NR <= 1000'; } >new.csv
{ echo path,label; grep -E "$old" test.csv; } >test-old.csv
{ echo path,label; grep -E "$new" test.csv; } >test-new.csv
run vrepo init
vrepo add . >/dev/null
run vrepo commit -m "Fashion-MNIST: 6,000 training and 2,000 test images, tables by task"

echo
echo "== Split the new task 80/20, stratified"
run vrepo dataset split --labels new.csv --ratios 0.8,0.2 --names train,val --stratify --seed 1
# Ten training labels made wrong on purpose (moved to the next class of the new task): the
# labelling mistake the failures will expose. The true labels are kept aside to "review" with.
cp new.train.csv "$scratch/new.train.true.csv"
awk -F, -v OFS=, '
  BEGIN { split("sandal shirt sneaker bag ankle_boot", c, " "); for (i = 1; i <= 5; i++) nx[c[i]] = c[i % 5 + 1] }
  NR > 1 && (NR - 2) % 60 == 0 && n < 10 { $2 = nx[$2]; n++ }
  { print }' "$scratch/new.train.true.csv" >new.train.csv
echo "new.train.csv: $(($(wc -l <new.train.csv) - 1)) images (10 labels wrong)," \
  "new.val.csv: $(($(wc -l <new.val.csv) - 1)), test-old.csv: $(($(wc -l <test-old.csv) - 1))," \
  "test-new.csv: $(($(wc -l <test-new.csv) - 1))"
vrepo add new.train.csv new.val.csv >/dev/null
run vrepo commit -m "Split the new task 80/20 (ten training labels are wrong)"

echo
echo "== A base model: resnet18 pretrained on classes 0-4 at ${size} px, exported, imported"
run vrepo train --labels old.csv --val test-old.csv --model resnet18 --image-size "$size" \
  --epochs 2 --seed 1 --name pretrain
run vrepo export pretrain --out pretrained
run vrepo model import pretrained/model.safetensors --arch resnet18 --name base \
  --classes pretrained/classes.json --input-size "$size"
run vrepo model show base

echo
echo "== Fine-tune on classes 5-9 from model:base: LoRA rank 8, and a full fine-tune (baseline)"
common=(--labels new.train.csv --val new.val.csv --base model:base --retain test-old.csv
  --epochs "$epochs" --schedule cosine --warmup-epochs 1 --label-smoothing 0.1 --seed 1)
# LoRA's few parameters take a higher rate than the full fine-tune's (1e-3, the default).
run vrepo train "${common[@]}" --lora 8 --lr 5e-3 --name lora
run vrepo train "${common[@]}" --name full
run vrepo runs compare full lora

echo
echo "== Key figures"
printf '%-6s %9s %16s %18s %18s\n' run "val acc" "retain (0-4)" "trainable params" "weights stored"
for r in pretrain lora full; do
  retain=-
  [[ $r == pretrain ]] || retain="$(retain_accuracy $r)%"
  printf '%-6s %8s%% %16s %18s %18s\n' "$r" "$(pct "$(field $r 'r["best_val_accuracy"]')")" \
    "$retain" "$(field $r 'r["parameters"]["trainable"]')" "$(field $r 'r["weights"]["size"]')"
done
echo "retain: accuracy on test-old.csv (classes 0-4) through the base model's head, best epoch;" \
  "pretrain: $(pct "$(field pretrain 'r["best_val_accuracy"]')")% on it"

base_commit=$(vrepo model show base --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["commit"])')
for r in lora full; do
  parents=$(field $r '" ".join(r["parents"])')
  check "'$base_commit' in '$parents'.split()" \
    "refs/runs/$r names model base's commit ${base_commit:0:12} as a parent" \
    "refs/runs/$r does not name model base's commit as a parent"
done
lora_bytes=$(field lora 'r["weights"]["size"]')
full_bytes=$(field full 'r["weights"]["size"]')
check "$lora_bytes * 4 < $full_bytes" \
  "the LoRA run stores $lora_bytes bytes of weights, the full one $full_bytes" \
  "the LoRA run stores $lora_bytes bytes, not far fewer than the full one's $full_bytes"
check "$(retain_accuracy lora) >= $(retain_accuracy full)" \
  "LoRA keeps at least as much of classes 0-4 as the full fine-tune" \
  "LoRA forgot more of classes 0-4 than the full fine-tune this time" NOTE

echo
echo "== The LoRA run's failures: on the validation table, and on the training table"
run vrepo eval lora --labels new.val.csv --failures val-failures.csv
echo "val-failures.csv: $(($(wc -l <val-failures.csv) - 1)) misclassified; the first five:"
head -6 val-failures.csv
run vrepo eval lora --labels new.train.csv --suspects 10 --failures train-failures.csv

echo
echo "== Review: restore the true label of every wrong one the failures list"
python3 - "$scratch/new.train.true.csv" <<'EOF'
import csv, sys
truth = {r["path"]: r["label"] for r in csv.DictReader(open(sys.argv[1]))}
listed = {r["path"] for r in csv.DictReader(open("train-failures.csv"))}
rows = list(csv.DictReader(open("new.train.csv")))
fixed = [r for r in rows if r["label"] != truth[r["path"]] and r["path"] in listed]
wrong = sum(r["label"] != truth[r["path"]] for r in rows)
for r in fixed:
    r["label"] = truth[r["path"]]
with open("new.train.csv", "w", newline="") as f:
    w = csv.DictWriter(f, ["path", "label"], lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
with open("fixed.csv", "w", newline="") as f:
    w = csv.DictWriter(f, ["path", "label"], lineterminator="\n")
    w.writeheader()
    w.writerows(fixed)
print(f"train-failures.csv lists {len(fixed)} of the {wrong} wrong labels; fixed them")
EOF
found=$(($(wc -l <fixed.csv) - 1))
check "$found == 10" "the failures list found all ten wrong labels" \
  "the failures list found $found of the ten wrong labels" NOTE
vrepo add new.train.csv fixed.csv >/dev/null
run vrepo commit -m "Fix $found labels of new.train.csv found by eval --failures"
run vrepo diff HEAD~1 HEAD --labels new.train.csv

echo
echo "== Retrain the LoRA run on the fixed labels and compare"
run vrepo train "${common[@]}" --lora 8 --lr 5e-3 --name lora-fixed
run vrepo runs compare lora lora-fixed
before=$(eval_accuracy lora fixed.csv)
after=$(eval_accuracy lora-fixed fixed.csv)
val_before=$(pct "$(field lora 'r["best_val_accuracy"]')")
val_after=$(pct "$(field lora-fixed 'r["best_val_accuracy"]')")
echo "on the $found fixed labels: lora $before%, lora-fixed $after%;" \
  "validation: $val_before% -> $val_after%; retain: $(retain_accuracy lora)% -> $(retain_accuracy lora-fixed)%"
check "$after >= $before" "the retrained run is at least as good on the fixed labels" \
  "the retrained run is worse on the fixed labels ($after% < $before%)" NOTE
check "$val_after >= $val_before" "the retrained run is at least as good on validation" \
  "the retrained run is worse on validation ($val_after% < $val_before%)" NOTE
echo "held-out test-new.csv (classes 5-9): lora $(eval_accuracy lora test-new.csv)%," \
  "full $(eval_accuracy full test-new.csv)%, lora-fixed $(eval_accuracy lora-fixed test-new.csv)%"

echo
echo "== Export the final model (the adapter merged into resnet18 under torchvision's names)"
run vrepo export lora-fixed --out final-model
ls -l final-model
cat final-model/preprocessing.json
echo
check "'$(tr -d '\n' <final-model/classes.json)'.count(',') == 4" \
  "final-model/ holds model.safetensors, preprocessing.json and classes.json (5 classes)" \
  "final-model/classes.json does not name five classes"

echo
echo "whole script: $(($(date +%s) - started)) s"
if ((fails > 0)); then
  echo "$fails check(s) failed" >&2
  exit 1
fi
