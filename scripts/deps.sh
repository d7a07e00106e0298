#!/usr/bin/env bash
# Installs the Debian packages a build needs, only those missing. Usage: scripts/deps.sh [build|test]
set -euo pipefail
packages=(build-essential cmake lld libevent-dev nlohmann-json3-dev doctest-dev node-llhttp curl file)
if [[ "${1:-build}" == test ]]; then
  # clang-19: the sanitizer and libFuzzer builds (clang 14 cannot parse libstdc++'s <expected>).
  # prometheus: its promtool and server check the metrics endpoint (tests/e2e/test_metrics.cpp).
  packages+=(clang-19 libclang-rt-19-dev clang-tidy-19 clang-format-19 python3 prometheus)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "scripts/deps.sh: missing packages: ${missing[*]}; run as root or: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The arm64 stage and scripts/release.sh cross-compile: Debian's cross toolchain, qemu-user-static.
if [[ "${1:-build}" == test ]]; then "$(dirname "$0")/cross-deps.sh"; fi
