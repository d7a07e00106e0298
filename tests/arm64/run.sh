#!/usr/bin/env bash
# The arm64 binary: cross-compiled with Debian's packages (cmake/toolchains/linux-arm64.cmake),
# static, for arm64, and the end-to-end tests passing against it under qemu-user-static.
#   tests/arm64/run.sh       on an amd64 machine; builds build-arm64/ (and build/'s e2e_tests)
#
# The e2e tests (built for this machine) start HOTWRAP_BIN, the arm64 binary, which the kernel
# hands to qemu-aarch64-static through binfmt_misc; the commands hotwrap spawns (sh, cat, ...)
# are this machine's own and run natively. Every test runs but those listed in QEMU_LIMITS below,
# which test what qemu-user does not emulate, not hotwrap: the same tests pass against the amd64
# binary in the release stage.
set -euo pipefail
cd "$(dirname "$0")/../.."
jobs=$(($(nproc) < 2 ? $(nproc) : 2))

[[ $(dpkg --print-architecture) == amd64 ]] ||
  { echo "tests/arm64/run.sh: cross-builds from amd64; this machine is $(dpkg --print-architecture)"; exit 1; }
scripts/cross-deps.sh arm64

cmake -S . -B build-arm64 -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/linux-arm64.cmake \
  -DCMAKE_BUILD_TYPE=Release -DHOTWRAP_WERROR=ON -DHOTWRAP_TESTS=OFF >/dev/null
cmake --build build-arm64 -j"$jobs" --target hotwrap
bin=$PWD/build-arm64/hotwrap
tests/check_static.sh "$bin" arm64

if ! grep -qx enabled /proc/sys/fs/binfmt_misc/qemu-aarch64 2>/dev/null; then
  echo "FAIL: arm64 programs cannot run here: binfmt_misc has no enabled qemu-aarch64 entry."
  echo "  Fix (as root): mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc;"
  echo "  update-binfmts --enable qemu-aarch64   (packages qemu-user-static, binfmt-support)"
  exit 1
fi
version=$("$bin" --version)
echo "$version"
[[ $version == *", linux/arm64)" ]] || { echo "FAIL: the arm64 binary says '$version'"; exit 1; }

# The e2e tests, native; build/ as the release stage configures it.
if [[ ! -x build/tests/e2e/e2e_tests ]]; then
  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DHOTWRAP_WERROR=ON -DHOTWRAP_TESTS=ON >/dev/null
fi
cmake --build build -j"$jobs" --target e2e_tests

# What qemu-user (Debian 12's qemu 7.2) does not emulate. Patterns for doctest's -tce, which
# splits at commas: a name with a comma is matched up to it, with '*'.
QEMU_LIMITS=(
  # prctl(PR_SET_CHILD_SUBREAPER) fails with EINVAL: hotwrap warns at start-up (one line more on
  # stderr than these tests allow) and does not adopt daemons that escape a call.
  "faults: SIGTERM leaves no child*"
  "prespawn: each call takes the process that was waiting for it"
  "socket: a bad FN_LISTENER stops start-up with one line and exit 2"
  "start-up: unknown FN_FORMAT exits 2 naming the value*"
  "default: \`echo hi | hotwrap rev\` behaves like rev*"
  "http: EOF*"
  "call ids: *"
  "json: EOF*"
  "json: stderr sharing stdout's pipe*"
  # qemu keeps host signal 32 for itself: a spawned command finds it ignored.
  "calls: the command starts with no blocked and no ignored signals"
  "calls: signals hotwrap inherited ignored are not ignored in the command"
  # qemu emulates posix_spawn's vfork as a fork: an exec failure is not reported to hotwrap, so
  # the 502 names an exit status, not the errno; EAGAIN at RLIMIT_NPROC comes from qemu's threads.
  "faults: a command deleted or made non-executable after start*"
  "faults: posix_spawn failing with EAGAIN (RLIMIT_NPROC)*"
  "metrics: calls of every outcome are counted*"
  # The memory bound is hotwrap's RSS, which under qemu is qemu's (tens of MiB).
  "faults: a command filling stdout forever is cut at the deadline*"
)
exclude=$(IFS=,; echo "${QEMU_LIMITS[*]}")
echo "e2e tests against the arm64 binary under qemu (${#QEMU_LIMITS[@]} excluded: qemu-user limits)"
HOTWRAP_BIN=$bin build/tests/e2e/e2e_tests -tce="$exclude"
