#!/usr/bin/env bash
# Installs what building hotwrap for another architecture needs, only what is missing: Debian's
# cross toolchain, qemu-user-static (to run what it builds) and the target's libevent-dev,
# unpacked into /opt/hotwrap-cross/<arch> (HOTWRAP_CROSS_ROOT), where cmake/toolchains/ looks.
#   scripts/cross-deps.sh [ARCH]     ARCH: arm64 or amd64; default: the one this machine is not
#
# Debian 12's libevent-dev is not Multi-Arch: same (its event-config.h differs per architecture
# but lives in /usr/include), so `apt-get install libevent-dev:arm64` would remove the native
# libevent-dev. The package of the same version as the native one is downloaded through
# multiarch (dpkg --add-architecture) and unpacked instead.
set -euo pipefail

host=$(dpkg --print-architecture)
case $host in
  amd64) other=arm64 ;;
  arm64) other=amd64 ;;
  *) echo "cross-deps.sh: this machine is $host; only amd64 and arm64 machines build the release" >&2; exit 1 ;;
esac
arch=${1:-$other}
case $arch in
  arm64) qemu=aarch64 ;;
  amd64) qemu=x86_64 ;;
  *) echo "cross-deps.sh: unknown architecture '$arch' (arm64 or amd64)" >&2; exit 2 ;;
esac
if [[ $arch == "$host" ]]; then
  echo "cross-deps.sh: this machine is $host already: scripts/deps.sh is all a native build needs" >&2
  exit 2
fi
root=${HOTWRAP_CROSS_ROOT:-/opt/hotwrap-cross/$arch}

need_root() {
  if [[ $(id -u) -ne 0 ]]; then
    echo "cross-deps.sh: $1; run as root (sudo scripts/cross-deps.sh $arch)" >&2
    exit 1
  fi
}

packages=("crossbuild-essential-$arch" qemu-user-static binfmt-support)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  need_root "missing packages: ${missing[*]}"
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The target's libevent-dev, the native one's version (the same sources on both architectures).
version=$(dpkg-query -W -f='${Version}' libevent-dev 2>/dev/null) || {
  echo "cross-deps.sh: libevent-dev is not installed: run scripts/deps.sh first" >&2
  exit 1
}
if [[ "$(cat "$root/.libevent-dev-version" 2>/dev/null)" != "$version" ]]; then
  need_root "libevent-dev:$arch $version is not unpacked in $root"
  if ! dpkg --print-foreign-architectures | grep -qx "$arch"; then
    echo "adding the dpkg architecture $arch (multiarch) to download libevent-dev:$arch"
    dpkg --add-architecture "$arch"
    apt-get update -qq
  elif ! apt-cache show "libevent-dev:$arch=$version" >/dev/null 2>&1; then
    apt-get update -qq
  fi
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  chmod 0755 "$work"  # apt's download runs as _apt
  (cd "$work" && apt-get download -qq "libevent-dev:$arch=$version" 2>&1 | grep -v '^W: Download is performed unsandboxed' || true)
  deb=$(ls "$work"/libevent-dev_*_"$arch".deb 2>/dev/null) || {
    echo "cross-deps.sh: apt-get download libevent-dev:$arch=$version failed: is the $arch architecture in the apt sources (dpkg --print-foreign-architectures; apt-get update)?" >&2
    exit 1
  }
  rm -rf "$root.new"
  mkdir -p "$root.new"
  dpkg-deb -x "$deb" "$root.new"
  echo "$version" >"$root.new/.libevent-dev-version"
  rm -rf "$root"
  mv "$root.new" "$root"
  echo "unpacked libevent-dev:$arch $version into $root"
fi

# Running the target's binaries: the kernel hands them to qemu through binfmt_misc. Where it
# cannot be registered (a container without binfmt_misc), tests/arm64/run.sh says so and runs
# hotwrap through qemu-$qemu-static with HOTWRAP_BIN_RUNNER instead.
if [[ ! -e /proc/sys/fs/binfmt_misc/qemu-$qemu ]] && [[ $(id -u) -eq 0 ]]; then
  update-binfmts --enable "qemu-$qemu" >/dev/null 2>&1 || true
fi
