#!/usr/bin/env bash
# The release files are reproducible: scripts/release.sh run twice — each time from a fresh copy
# of the sources in a directory of another name, minutes apart — gives the same bytes. Also
# checks what the files hold: SHA256SUMS verifies, each tarball has the binary, LICENSE, NOTICE
# and the licence texts.
#   tests/repro/run.sh       prints the checksums of both runs; exits non-zero on a difference
set -euo pipefail
cd "$(dirname "$0")/../.."
# The tracked files as they are (a test run may have uncommitted changes); both runs see the same.
first=$(mktemp -d /tmp/hwrepro-first.XXXXXX)
second=$(mktemp -d /tmp/hwrepro-second-run.XXXXXX)
trap 'rm -rf "$first" "$second"' EXIT
scripts/release.sh --allow-dirty --out "$first" >"$first.log" 2>&1 ||
  { tail -n 20 "$first.log"; rm -f "$first.log"; exit 1; }
scripts/release.sh --allow-dirty --out "$second" >"$second.log" 2>&1 ||
  { tail -n 20 "$second.log"; rm -f "$second.log"; exit 1; }
rm -f "$first.log" "$second.log"

fail=0
echo "first run:"
sed 's/^/  /' "$first/SHA256SUMS"
if ! diff -u "$first/SHA256SUMS" "$second/SHA256SUMS"; then
  echo "FAIL: two builds of the same sources differ (the diff above: first, then second run)"
  for f in "$first"/hotwrap-*; do
    n=$(basename "$f")
    cmp -s "$f" "$second/$n" && continue
    echo "  $n: $(cmp -l "$f" "$second/$n" | wc -l) bytes differ; first ones (offset, octal values):"
    cmp -l "$f" "$second/$n" | head -n 5 | sed 's/^/    /'
  done
  echo "  (diffoscope $first/<file> $second/<file> shows where; look for time stamps and paths)"
  fail=1
else
  echo "PASS: two builds of the same sources are identical"
fi

(cd "$first" && sha256sum --quiet -c SHA256SUMS) || { echo "FAIL: SHA256SUMS does not verify"; fail=1; }
for arch in amd64 arm64; do
  tarball=$(ls "$first"/hotwrap-*-linux-"$arch".tar.gz)
  dir=$(basename "$tarball" .tar.gz)
  listing=$(tar -tzvf "$tarball")
  for want in hotwrap LICENSE NOTICE CHANGELOG.md licenses/LGPL-2.1.txt licenses/glibc.copyright.txt \
    licenses/libevent.copyright.txt licenses/llhttp.copyright.txt licenses/nlohmann-json.copyright.txt; do
    grep -q " $dir/$want\$" <<<"$listing" || { echo "FAIL: $dir.tar.gz has no $dir/$want"; fail=1; }
  done
  if grep -v ' 0/0 ' <<<"$listing" | grep -q .; then
    echo "FAIL: $dir.tar.gz has entries not owned by 0/0"; fail=1
  fi
  tar -xzOf "$tarball" "$dir/hotwrap" | cmp -s - "$first/$dir" ||
    { echo "FAIL: the binary in $dir.tar.gz is not $dir"; fail=1; }
done
((fail == 0)) && echo "PASS: SHA256SUMS verifies; the tarballs hold the binary, LICENSE, NOTICE and licenses/"
exit "$fail"
