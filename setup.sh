#!/usr/bin/env bash
# Sets up a Debian 12 (bookworm) machine to build vrepo, then builds it into build/.
#   ./setup.sh             build dependencies + Release build with the test suite
#   ./setup.sh --sanitize  also build-asan/: the library, vrepo and every test but the
#                          training ones (libtorch is not instrumented) under ASan + UBSan
#   ./setup.sh --bench     also the tools bench/ compares against (git-lfs, hyperfine, zstd, ...)
# Idempotent: installed packages are not touched again and the build is incremental.
# Run as root (or with sudo available) from anywhere; it works from the repository root.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"

BUILD_PACKAGES=(
  build-essential cmake ninja-build pkg-config git ca-certificates
  libgit2-dev librocksdb-dev libzstd-dev libssl-dev zlib1g-dev
  libcli11-dev doctest-dev libspng-dev libjpeg62-turbo-dev nlohmann-json3-dev libcpp-httplib-dev
  # The https tests make a self-signed certificate with the openssl command.
  openssl
  libtorch-dev libopenblas0-openmp
  # Distributed training: Gloo's headers, for libtorch's ProcessGroupGloo.
  libgloo-dev
  dataset-fashion-mnist
  # The reference the ResNet parity test compares against (it skips without it).
  python3-torchvision
  # The style tests (tests/style): every file formatted, no tidy finding in changed files.
  clang-format clang-tidy
  # The S3 remote: libcurl (SigV4 client); the tests' S3 server (tests/s3/s3_server.sh, a
  # one-node Ceph with radosgw under build/, no system daemon) and the curl CLI its checks use.
  libcurl4-openssl-dev curl radosgw ceph-mon ceph-osd ceph-common
  # The browser test (tests/browser): Chromium, headless, driven by playwright-core under Node.js.
  chromium nodejs
)
BENCH_PACKAGES=(git-lfs hyperfine zstd tar time rsync rclone)

packages=("${BUILD_PACKAGES[@]}")
sanitize=0
for arg in "$@"; do
  case "$arg" in
    --bench) packages+=("${BENCH_PACKAGES[@]}") ;;
    --sanitize) sanitize=1 ;;
    -h | --help)
      sed -n '2,8s/^# \{0,1\}//p' "$0"
      exit 0
      ;;
    *)
      echo "setup.sh: unknown option '$arg' (try --help)" >&2
      exit 129
      ;;
  esac
done

log=$(mktemp /tmp/vrepo-setup.XXXXXX.log)
deb_dir=""
trap 'rm -rf "$log" $deb_dir' EXIT

# Runs a command with its output in $log; on failure shows the tail of it and stops.
quiet() {
  if ! "$@" >"$log" 2>&1; then
    echo "setup.sh: failed: $*" >&2
    tail -n 40 "$log" >&2
    exit 1
  fi
}

sudo=()
if ((EUID != 0)) && command -v sudo >/dev/null; then sudo=(sudo); fi

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [[ "$status" == installed ]] || missing+=("$p")
done

if ((${#missing[@]})); then
  if ((EUID != 0 && ${#sudo[@]} == 0)); then
    echo "setup.sh: missing packages (${missing[*]}); run as root to install them" >&2
    exit 1
  fi
  echo "setup.sh: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  quiet "${sudo[@]}" apt-get update
  quiet "${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
fi

# The plots' font, which CMakeLists.txt embeds: only the font file is taken from the package,
# because installing console-setup-linux would pull in keyboard-configuration and init scripts.
font_dir=/usr/local/share/vrepo/fonts
font=Lat15-TerminusBold16.psf.gz
if [[ ! -f "$font_dir/$font" ]]; then
  echo "setup.sh: unpacking the plot font ($font, console-setup-linux) into $font_dir"
  deb_dir=$(mktemp -d /tmp/vrepo-font.XXXXXX)
  # A machine whose package lists are missing or stale gets them updated once.
  if ! (cd "$deb_dir" && apt-get download console-setup-linux) >"$log" 2>&1; then
    quiet "${sudo[@]}" apt-get update
    (cd "$deb_dir" && quiet apt-get download console-setup-linux)
  fi
  quiet dpkg -x "$deb_dir"/console-setup-linux_*.deb "$deb_dir/root"
  quiet "${sudo[@]}" install -D -m 644 "$deb_dir/root/usr/share/consolefonts/$font" \
    "$font_dir/$font"
fi

# playwright-core, pinned in tests/browser/package-lock.json to a release that runs on Debian 12's
# Node.js 18 (later ones need 20). Debian's nodejs comes without npm; NodeSource's brings both.
if ! command -v npm >/dev/null; then
  echo "setup.sh: installing npm"
  quiet "${sudo[@]}" apt-get install -y --no-install-recommends npm
fi
browser=tests/browser
if [[ ! -f $browser/node_modules/.package-lock.json ||
  $browser/package-lock.json -nt $browser/node_modules/.package-lock.json ]]; then
  echo "setup.sh: installing the browser test's packages (npm ci --prefix $browser)"
  # Trust what the system trusts (a site's own CA included), as apt, curl and git do.
  cafile=()
  [[ -f /etc/ssl/certs/ca-certificates.crt ]] && cafile=(--cafile /etc/ssl/certs/ca-certificates.crt)
  quiet npm ci --prefix "$browser" --no-audit --no-fund "${cafile[@]}"
fi

echo "setup.sh: building into build/ (Release, with tests)"
quiet cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=ON
# --quiet hides the progress lines; compiler errors still come through.
ninja -C build --quiet
if ((sanitize)); then
  echo "setup.sh: building into build-asan/ (ASan + UBSan, without libtorch)"
  quiet cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=ON \
    -DVREPO_SANITIZE=ON -DCMAKE_DISABLE_FIND_PACKAGE_Torch=ON
  ninja -C build-asan --quiet
fi
echo "setup.sh: done: build/vrepo, build/examples/vrepo-fmnist-export"
