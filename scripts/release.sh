#!/usr/bin/env bash
# Builds the release files of the checked-out commit, from a clean copy of it:
#   dist/hotwrap-<version>-linux-amd64          static binaries
#   dist/hotwrap-<version>-linux-arm64
#   dist/hotwrap-<version>-linux-<arch>.tar.gz  the binary with LICENSE, NOTICE and licenses/
#   dist/SHA256SUMS
#
#   scripts/release.sh [--out DIR] [--allow-dirty]
#     --out DIR       where the files go (default: dist)
#     --allow-dirty   build the tracked files as they are, not HEAD, labelled <commit>-dirty (for
#                     tests; a release is built from a committed, clean tree)
#
# The files are reproducible: the same commit gives the same bytes wherever and whenever it is
# built (tests/repro/run.sh builds twice and compares). The sources are a `git archive` in a new
# directory, so nothing untracked gets in; no path reaches the binary (-ffile-prefix-map) and
# every time stamp is the commit's (SOURCE_DATE_EPOCH, tar --mtime, gzip -n).
#
# Versions: project(hotwrap VERSION x.y.z) in CMakeLists.txt is the one place the version is
# written; a release is the commit tagged vx.y.z (git tag -a vx.y.z), and CHANGELOG.md has its
# section. An untagged commit builds as a snapshot of that version.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

out=dist allow_dirty=0
while (($#)); do
  case $1 in
    --out) out=${2:?--out needs a directory}; shift 2 ;;
    --allow-dirty) allow_dirty=1; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "release.sh: unknown argument '$1' (see scripts/release.sh --help)" >&2; exit 2 ;;
  esac
done
die() { echo "release.sh: $*" >&2; exit 1; }

git rev-parse --verify -q HEAD >/dev/null 2>&1 ||
  die "$root is not a git checkout with a commit: the release is built from one (git clone ...)"
version=$(sed -n 's/^project(hotwrap VERSION \([0-9][0-9.]*\) .*/\1/p' CMakeLists.txt)
[[ -n $version ]] || die "no 'project(hotwrap VERSION x.y.z ...)' line in CMakeLists.txt"
grep -q "^## \[$version\]" CHANGELOG.md ||
  die "CHANGELOG.md has no '## [$version]' section: describe the release there first"
commit=$(git rev-parse HEAD | cut -c1-12)
rev=HEAD
if [[ -n "$(git status --porcelain --untracked-files=no)" ]]; then
  ((allow_dirty)) ||
    die "the tree has uncommitted changes (git status): commit or stash them; a release is built from a commit"
  # The tracked files as they are, as a commit object that no branch points to.
  rev=$(git stash create)
  commit+=-dirty
fi
tags=$(git tag --points-at HEAD --list 'v*')
if [[ -n $tags ]] && ! grep -qx "v$version" <<<"$tags"; then
  die "HEAD is tagged $(echo $tags) but CMakeLists.txt says $version: the tag must be v$version"
fi
[[ -n $tags ]] || echo "release.sh: HEAD is not tagged v$version: building a snapshot of $version"

host=$(dpkg --print-architecture)
arches=(amd64 arm64)
[[ " ${arches[*]} " == *" $host "* ]] || die "this machine is $host: the release is built on amd64 or arm64"
scripts/deps.sh build
for a in "${arches[@]}"; do [[ $a == "$host" ]] || scripts/cross-deps.sh "$a"; done

# Every time stamp that reaches a file is the commit's: tar's, and GCC's __DATE__ and __TIME__.
SOURCE_DATE_EPOCH=$(git log -1 --format=%ct HEAD)
export SOURCE_DATE_EPOCH
export TZ=UTC LC_ALL=C
umask 022
jobs=$(($(nproc) < 2 ? $(nproc) : 2))  # a shared 2-core machine: never more than two
work=$(mktemp -d /tmp/hotwrap-release.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir "$work/src"
git archive --format=tar "$rev" | tar -x -C "$work/src"

mkdir -p "$out"
out=$(cd "$out" && pwd)
name=hotwrap-$version-linux
rm -f "$out/$name"-* "$out/SHA256SUMS"
for arch in "${arches[@]}"; do
  build=$work/build-$arch
  toolchain=()
  [[ $arch == "$host" ]] || toolchain=(-DCMAKE_TOOLCHAIN_FILE="$work/src/cmake/toolchains/linux-$arch.cmake")
  echo "release.sh: building linux/$arch"
  cmake -S "$work/src" -B "$build" "${toolchain[@]}" -DCMAKE_BUILD_TYPE=Release \
    -DHOTWRAP_TESTS=OFF -DHOTWRAP_WERROR=ON -DHOTWRAP_COMMIT="$commit" >"$work/cmake-$arch.log" ||
    die "configuring linux/$arch failed: $(tail -n 5 "$work/cmake-$arch.log")"
  cmake --build "$build" -j"$jobs" --target hotwrap >"$work/build-$arch.log" 2>&1 ||
    die "building linux/$arch failed: $(tail -n 20 "$work/build-$arch.log")"
  bin=$build/hotwrap
  tests/check_static.sh "$bin" "$arch" >/dev/null || die "$(tests/check_static.sh "$bin" "$arch")"
  # The binary must say what it is; a foreign one runs through qemu-user (binfmt_misc, or
  # qemu-<cpu>-static named explicitly where binfmt_misc is not available).
  run=()
  if [[ $arch != "$host" && ! -e /proc/sys/fs/binfmt_misc/qemu-$([[ $arch == arm64 ]] && echo aarch64 || echo x86_64) ]]; then
    run=("qemu-$([[ $arch == arm64 ]] && echo aarch64 || echo x86_64)-static")
  fi
  said=$("${run[@]}" "$bin" --version) || die "$bin --version failed"
  want="hotwrap $version (commit $commit, linux/$arch)"
  [[ $said == "$want" ]] || die "$bin --version says '$said', not '$want'"

  install -m 0755 "$bin" "$out/$name-$arch"
  stage=$work/stage/$name-$arch
  mkdir -p "$stage/licenses"
  install -m 0755 "$bin" "$stage/hotwrap"
  install -m 0644 "$work/src/LICENSE" "$work/src/NOTICE" "$work/src/CHANGELOG.md" "$stage/"
  install -m 0644 "$work/src"/licenses/* "$stage/licenses/"
  # Same bytes for the same commit: names sorted, the commit's time, no owner names, no gzip
  # time stamp or file name.
  tar --sort=name --format=gnu --mtime="@$SOURCE_DATE_EPOCH" --owner=0 --group=0 --numeric-owner \
    -C "$work/stage" -cf - "$name-$arch" | gzip -9n >"$out/$name-$arch.tar.gz"
done
(cd "$out" && sha256sum "$name-amd64" "$name-amd64.tar.gz" "$name-arm64" "$name-arm64.tar.gz" >SHA256SUMS)

echo "release.sh: hotwrap $version (commit $commit) in $out:"
(cd "$out" && for f in "$name"-*; do printf '  %-40s %9d bytes\n' "$f" "$(stat -c %s "$f")"; done)
sed 's/^/  /' "$out/SHA256SUMS"
