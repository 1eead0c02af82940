#!/usr/bin/env bash
# The CUDA check of `vrepo train` (issue 4), made for a GPU machine that has PyTorch, CMake,
# ninja and a compiler but none of vrepo's other build dependencies and no network:
#   1. unpacks Debian 12 .deb files of the dependencies (DEPS, made with `apt-get download`)
#      into BUILD/deps-root with `dpkg -x` (never into /) and points pkg-config, CMake, the
#      compiler and the loader at it;
#   2. configures against the libtorch inside python3's torch and builds vrepo, vrepo-train,
#      train_tests and the Fashion-MNIST exporter;
#   3. runs the train tests (the cuda: cases first, showing their messages);
#   4. times `vrepo train --device cuda` against bench/pytorch_train.py on the same GPU, same
#      data, model, batch size and loader thread count, fp32 and bf16;
#   5. trains --deterministic on CUDA and runs `vrepo reproduce` on the run.
# Logs and a summary go to OUT. Stops at the first failing build step; test, bench and
# reproduce failures are reported and the script goes on, exiting 1 at the end.
# Dry run on a machine with the packages installed: DEPS= STEPS=build bench/cuda_check.sh
#
# usage: bench/cuda_check.sh
#   env: OUT=/tmp/vrepo-cuda-check  logs (build.log tests.log bench.log det.log summary.md)
#        DEPS=.devdeps              folder of .deb files ("" = use the installed packages)
#        DATA=.devdata/fashion-mnist  IDX .gz files, copied to the exporter's default folder
#                                   when the machine has none
#        BUILD=build-cuda  STEPS="build test bench det"  JOBS=nproc
#        N=20000 small-cnn training images  RESNET_N=10000 resnet18 images at RESNET_SIZE=224
#        TEST_N=2000 validation images  BATCH=256  EPOCHS=2 (img/s is the last epoch's)
#        WORKERS=nproc (vrepo loader threads = DataLoader worker processes)
#        DEVICE=cuda PRECISIONS="fp32 bf16" (DEVICE=cpu PRECISIONS=fp32 tries the steps on a CPU)
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
OUT=${OUT:-/tmp/vrepo-cuda-check}
DEPS=${DEPS-.devdeps}
DATA=${DATA:-.devdata/fashion-mnist}
BUILD=${BUILD:-build-cuda}
STEPS=${STEPS:-build test bench det}
JOBS=${JOBS:-$(nproc)}
N=${N:-20000}
RESNET_N=${RESNET_N:-10000}
RESNET_SIZE=${RESNET_SIZE:-224}
TEST_N=${TEST_N:-2000}
BATCH=${BATCH:-256}
EPOCHS=${EPOCHS:-2}
WORKERS=${WORKERS:-$(nproc)}
DEVICE=${DEVICE:-cuda}
PRECISIONS=${PRECISIONS:-fp32 bf16}
mkdir -p "$OUT" "$BUILD"
BUILD=$(cd "$BUILD" && pwd)
OUT=$(cd "$OUT" && pwd)
failures=()
tag=$(date +%H%M%S)  # run names stay new when the steps run again on the same data
t0=$(date +%s)

say() { echo "[cuda_check +$(($(date +%s) - t0))s] $*"; }
die() {
  say "FAILED: $*"
  exit 1
}
step() { [[ " $STEPS " == *" $1 "* ]]; }
python=$(command -v python3) || die "no python3"

# --- the machine -------------------------------------------------------------------------
{
  echo "host: $(nproc) CPUs, $(uname -r), $(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME")"
  command -v nvidia-smi >/dev/null &&
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  "$python" -c 'import torch, torchvision; print("python torch", torch.__version__, "cuda",
torch.version.cuda, "cudnn", torch.backends.cudnn.version(), "torchvision",
torchvision.__version__, "gpu", torch.cuda.is_available())'
  echo "compiler: $(c++ --version | head -1); $(cmake --version | head -1); ninja $(ninja --version)"
  command -v nvcc >/dev/null && nvcc --version | tail -1
} 2>&1 | tee "$OUT/summary.md"

# --- 1. dependencies from .deb files -----------------------------------------------------
deps_root=$BUILD/deps-root
deps_ld=""
cmake_prefix=""
cmake_extra=()
if [[ -n "$DEPS" ]]; then
  shopt -s nullglob
  debs=("$DEPS"/*.deb)
  ((${#debs[@]})) || die "DEPS=$DEPS holds no .deb files"
  rm -rf "$deps_root"
  mkdir -p "$deps_root"
  for deb in "${debs[@]}"; do dpkg -x "$deb" "$deps_root" || die "dpkg -x $deb"; done
  # Absolute symbolic links would point into the machine's /usr: make them point inside.
  while IFS= read -r link; do
    ln -sfn "$deps_root$(readlink "$link")" "$link"
  done < <(find "$deps_root" -type l -lname '/*')
  # .pc files name /usr (some in quotes); rewrite them to the unpacked tree.
  find "$deps_root" -name '*.pc' -exec sed -i -E \
    "s#(^[a-z_]+=\"?|-I\"?|-L\"?)/usr#\\1$deps_root/usr#g" {} +
  multi=$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
  libs="$deps_root/usr/lib/$multi:$deps_root/lib/$multi"
  # At run time only the libraries this machine lacks come from the debs (links in
  # deps-runtime), so that nothing else (cmake, python, the compiler) meets a second copy of
  # zlib or OpenSSL. FORCE_DEPS_RUNTIME=1 takes all of them (to try the debs where every
  # library is installed).
  deps_ld=$BUILD/deps-runtime
  rm -rf "$deps_ld"
  mkdir -p "$deps_ld"
  ldconfig=$(command -v ldconfig || echo /sbin/ldconfig)
  while IFS= read -r lib; do
    soname=$(readelf -d "$lib" 2>/dev/null | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
    [[ -n "$soname" && ! -e "$deps_ld/$soname" ]] || continue
    if [[ "${FORCE_DEPS_RUNTIME:-0}" == 1 ]] || ! "$ldconfig" -p | awk -v s="$soname" '$1 == s { f = 1 } END { exit !f }'; then
      ln -s "$lib" "$deps_ld/$soname"
    fi
  done < <(find "$deps_root/usr/lib/$multi" "$deps_root/lib/$multi" -maxdepth 1 -type f -name 'lib*.so*' 2>/dev/null)
  export PKG_CONFIG_PATH="$deps_root/usr/lib/$multi/pkgconfig:$deps_root/usr/share/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
  # Headers such as jconfig.h and opensslconf.h sit in the multiarch folder, which the
  # compiler searches by itself only under /usr.
  export CPATH="$deps_root/usr/include/$multi:$deps_root/usr/include${CPATH:+:$CPATH}"
  export LIBRARY_PATH="$libs${LIBRARY_PATH:+:$LIBRARY_PATH}"
  cmake_prefix="$deps_root/usr"
  cmake_extra+=("-DOPENSSL_ROOT_DIR=$deps_root/usr" -DVREPO_STATIC_ROCKSDB=OFF
    "-DCMAKE_EXE_LINKER_FLAGS=-Wl,-rpath-link,$libs")
  # Named explicitly: CMake would otherwise take the debs' usr/bin/pkg-config, which needs
  # their libpkgconf. Without one here, a wrapper runs that one with its library.
  if command -v pkg-config >/dev/null; then
    cmake_extra+=("-DPKG_CONFIG_EXECUTABLE=$(command -v pkg-config)")
  else
    [[ -x "$deps_root/usr/bin/pkgconf" ]] || die "no pkg-config here and none among the debs"
    printf '#!/bin/sh\nLD_LIBRARY_PATH=%s exec %s "$@"\n' "$libs" "$deps_root/usr/bin/pkgconf" \
      >"$BUILD/pkg-config"
    chmod +x "$BUILD/pkg-config"
    cmake_extra+=("-DPKG_CONFIG_EXECUTABLE=$BUILD/pkg-config")
  fi
  say "unpacked ${#debs[@]} debs into $deps_root; taken at run time: $(ls "$deps_ld" | tr '\n' ' ')"
fi
# Runs a built program with the unpacked libraries found first.
with_deps() { LD_LIBRARY_PATH="$deps_ld${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$@"; }

if [[ ! -d /usr/share/datasets/fashion-mnist && -d "$DATA" ]]; then
  mkdir -p /usr/share/datasets/fashion-mnist && cp "$DATA"/*.gz /usr/share/datasets/fashion-mnist/ ||
    die "cannot copy $DATA to /usr/share/datasets/fashion-mnist (the exporter's default)"
fi

# --- 2. build ------------------------------------------------------------------------------
if step build; then
  torch_prefix=$("$python" -c 'import torch; print(torch.utils.cmake_prefix_path)' 2>/dev/null || true)
  [[ -d /usr/local/cuda/bin ]] && export PATH="$PATH:/usr/local/cuda/bin"
  gpu_flags=()
  if command -v nvcc >/dev/null; then
    # Only Hopper is built for (nothing of vrepo's is CUDA code; torch's CMake wants a list).
    export TORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST:-9.0}
    gpu_flags+=("-DCMAKE_CUDA_COMPILER=$(command -v nvcc)")
  fi
  say "configuring $BUILD (torch at ${torch_prefix:-system})"
  if ! cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=ON \
    -DCMAKE_POLICY_VERSION_MINIMUM=3.5 \
    "-DCMAKE_PREFIX_PATH=${cmake_prefix}${torch_prefix:+;$torch_prefix}" \
    "${cmake_extra[@]}" "${gpu_flags[@]}" >"$OUT/build.log" 2>&1; then
    grep -E -A5 "CMake Error|Could not|not found" "$OUT/build.log" | head -60
    die "cmake configure (see build.log)"
  fi
  grep -q "libtorch not found" "$OUT/build.log" && {
    grep -i -B2 -A8 "torch" "$OUT/build.log" | head -40
    die "CMake did not find Torch"
  }
  say "building vrepo, vrepo-train, train_tests with ninja -j$JOBS"
  # -k 0: every compile error in one run, since device time is short.
  # The loader path too: after linking, CMake runs train_tests to list its cases.
  if ! with_deps ninja -C "$BUILD" -j"$JOBS" -k 0 vrepo-fmnist-export vrepo vrepo-train \
    train_tests >>"$OUT/build.log" 2>&1; then
    grep -E "error|FAILED|undefined reference" "$OUT/build.log" | head -60
    die "build (see build.log)"
  fi
  say "built: $(with_deps "$BUILD/vrepo" --version)"
fi
vrepo=$BUILD/vrepo
export_bin=$BUILD/examples/vrepo-fmnist-export
[[ -x "$vrepo" && -x "$export_bin" ]] || die "$vrepo or $export_bin missing: run the build step"
gpu=$("$python" -c 'import torch; print(int(torch.cuda.is_available()))' 2>/dev/null || echo 0)
((gpu)) || say "no GPU visible to torch: CUDA tests will skip and CUDA runs will fail"

# --- 3. tests --------------------------------------------------------------------------------
if step test; then
  say "train tests"
  # The parity test compares with this machine's torchvision.
  export VREPO_TEST_PYTHON=$python
  {
    echo "== train_tests -tc='cuda:*' (messages shown)"
    with_deps timeout 300 "$BUILD/tests/train_tests" -tc='cuda:*'
    echo "rc=$?"
    echo "== ctest -R ^train/"
    (cd "$BUILD" && with_deps timeout 420 ctest -R '^train/' -j 4 --timeout 300 --output-on-failure)
    echo "rc=$?"
  } >"$OUT/tests.log" 2>&1
  grep -E "^\[doctest\] (test cases|assertions)|MESSAGE|skipped|tests passed|tests failed|\(Failed\)|Timeout|^rc=" \
    "$OUT/tests.log" | tee -a "$OUT/summary.md"
  grep -q "^rc=[1-9]" "$OUT/tests.log" && failures+=("tests")
fi

# A backtrace of one CPU-only test case, for crashes (cuda-gdb also debugs host code).
if step backtrace && command -v cuda-gdb >/dev/null; then
  with_deps cuda-gdb -batch -ex run -ex bt -ex "info sharedlibrary" --args \
    "$BUILD/tests/train_tests" -tc='loader: the order is a permutation*' >"$OUT/backtrace.log" 2>&1
  grep -E "^#|signal|SIG" "$OUT/backtrace.log" | head -30
fi

# --- 4. images/s against PyTorch ----------------------------------------------------------
work=$BUILD/cuda-check-data
repo=$work/repo
prepare_data() {
  [[ -f "$work/ready" ]] && return 0
  rm -rf "$work"
  mkdir -p "$repo"
  with_deps "$export_bin" --out "$repo" --split train --limit "$N" >/dev/null || return 1
  mv "$repo/labels.csv" "$repo/train.csv"
  with_deps "$export_bin" --out "$repo" --split test --limit "$TEST_N" >/dev/null || return 1
  mv "$repo/labels.csv" "$repo/test.csv"
  head -n $((RESNET_N + 1)) "$repo/train.csv" >"$repo/train-resnet.csv"
  head -n 5001 "$repo/train.csv" >"$repo/train-5k.csv"
  export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.invalid
  export GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.invalid
  with_deps "$vrepo" -C "$repo" init >/dev/null &&
    with_deps "$vrepo" -C "$repo" add . >/dev/null &&
    with_deps "$vrepo" -C "$repo" commit -m "Fashion-MNIST for cuda_check" >/dev/null || return 1
  # ImageFolder wants a folder per class: symbolic links to the same PNG files.
  "$python" bench/class_view.py "$repo" "$work/view" small-cnn=train.csv \
    resnet18=train-resnet.csv test=test.csv || return 1
  touch "$work/ready"
}

# vrepo_run NAME TABLE MODEL SIZE PRECISION [ARGS...]: prints "img/s val_acc epoch_img/s..."
vrepo_run() {
  local name=$1 table=$2 model=$3 size=$4 precision=$5 out
  shift 5
  out=$(with_deps "$vrepo" -C "$repo" train --labels "$table" --val test.csv --model "$model" \
    --image-size "$size" --epochs "$EPOCHS" --batch-size "$BATCH" --workers "$WORKERS" \
    --device "$DEVICE" --precision "$precision" --name "$name" --json "$@" 2>>"$OUT/bench.log") ||
    { echo "vrepo train $name failed" >>"$OUT/bench.log"; return 1; }
  echo "$out" >"$work/$name.json"
  "$python" -c 'import json, sys
r = json.load(open(sys.argv[1])); e = r["epochs"]
print(e[-1]["images_per_second"], e[-1]["val_accuracy"], *[x["images_per_second"] for x in e])' \
    "$work/$name.json"
}
pytorch_run() {  # VIEW MODEL SIZE PRECISION [ARGS...]
  local view=$1 model=$2 size=$3 precision=$4 out
  shift 4
  out=$(PYTHONUNBUFFERED=1 "$python" bench/pytorch_train.py --train "$work/view/$view" \
    --test "$work/view/test" --model "$model" --image-size "$size" --batch-size "$BATCH" \
    --workers "$WORKERS" --epochs "$EPOCHS" --device "$DEVICE" --precision "$precision" "$@" \
    2>>"$OUT/bench.log") || { echo "pytorch_train.py $model failed" >>"$OUT/bench.log"; return 1; }
  echo "pytorch $model $size $precision $*: $out" >>"$OUT/bench.log"
  "$python" -c 'import json, sys
r = json.loads(sys.argv[1]); ips = r["images_per_second"]
print(ips[-1], r["val_accuracy"], *ips)' "$out"
}

if step bench; then
  say "bench: exporting $N + $TEST_N images into a repository"
  prepare_data || die "preparing the bench data"
  rows=()
  for spec in "small-cnn 28 train.csv small-cnn $N" \
    "resnet18 $RESNET_SIZE train-resnet.csv resnet18 $RESNET_N"; do
    read -r model size table view count <<<"$spec"
    for precision in $PRECISIONS; do
      say "bench: $model $size px $precision: vrepo"
      v=$(vrepo_run "$model-$size-$precision-$tag" "$table" "$model" "$size" "$precision") ||
        { failures+=("vrepo $model $precision"); v="0 0"; }
      say "bench: $model $size px $precision: PyTorch"
      p=$(pytorch_run "$view" "$model" "$size" "$precision") ||
        { failures+=("pytorch $model $precision"); p="0 0"; }
      echo "$model $size $precision vrepo [$v] pytorch [$p]" >>"$OUT/bench.log"
      read -r vi va _ <<<"$v"
      read -r pi pa _ <<<"$p"
      rows+=("$(awk -v m="$model" -v s="$size" -v n="$count" -v pr="$precision" -v vi="$vi" \
        -v pi="$pi" -v va="$va" -v pa="$pa" 'BEGIN { printf "| %s | %s px | %d | %s | %.0f | %.0f | %s | %.1f%% / %.1f%% |",
        m, s, n, pr, vi, pi, (pi > 0 ? sprintf("%.2fx", vi / pi) : "n/a"), 100 * va, 100 * pa }')")
    done
  done
  # Whether channels_last pays on this GPU: PyTorch's resnet18 in bf16 without it.
  say "bench: resnet18 bf16 contiguous (PyTorch)"
  c=$(pytorch_run resnet18 resnet18 "$RESNET_SIZE" "${PRECISIONS##* }" --memory-format contiguous) ||
    c="0 0"
  {
    echo
    echo "GPU img/s, epoch $EPOCHS of $EPOCHS (epoch 1 includes cuDNN's algorithm search),"
    echo "batch $BATCH, AdamW lr 1e-3, channels_last, $WORKERS loader threads / DataLoader workers;"
    echo "validation $TEST_N test images (val acc after epoch $EPOCHS)."
    echo
    echo "| model | image | train images | precision | vrepo img/s | PyTorch img/s | vrepo / PyTorch | val acc vrepo / PyTorch |"
    echo "|---|---|---|---|---|---|---|---|"
    printf '%s\n' "${rows[@]}"
    echo
    echo "PyTorch resnet18 ${PRECISIONS##* } contiguous (not channels_last):" \
      "$(awk '{ printf "%.0f", $1 }' <<<"$c") img/s"
    "$python" -c 'import json, sys
r = json.load(open(sys.argv[1]))
print("run.json:", json.dumps(r["versions"]), json.dumps(r.get("device")),
      "config.precision:", r["config"]["precision"])' \
      "$work/resnet18-$RESNET_SIZE-${PRECISIONS##* }-$tag.json"
  } | tee -a "$OUT/summary.md"
fi

# --- 5. deterministic CUDA runs and their reproduction --------------------------------------
if step det; then
  prepare_data || die "preparing the data"
  {
    for spec in "det-small small-cnn 28 auto" "det-resnet resnet18 64 fp32"; do
      read -r name model size precision <<<"$spec"
      name=$name-$tag
      echo "== $name: $model $size px $precision --deterministic, 5,000 images, 2 epochs"
      with_deps "$vrepo" -C "$repo" train --labels train-5k.csv --val test.csv --model "$model" \
        --image-size "$size" --epochs 2 --batch-size 128 --device "$DEVICE" --precision "$precision" \
        --deterministic --seed 3 --name "$name" 2>&1
      echo "rc=$?"
      echo "== vrepo reproduce $name"
      with_deps "$vrepo" -C "$repo" reproduce "$name" 2>&1
      echo "rc=$?"
    done
  } >"$OUT/det.log" 2>&1
  cat "$OUT/det.log" | tee -a "$OUT/summary.md" >/dev/null
  grep -E "^==|rc=|match|differ|reproduced|error" "$OUT/det.log"
  grep -q "^rc=[1-9]" "$OUT/det.log" && failures+=("deterministic reproduce")
fi

say "done in $(($(date +%s) - t0)) s; failures: ${failures[*]:-none}"
((${#failures[@]} == 0))
