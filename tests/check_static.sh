#!/bin/sh
# The release artifact must be one static binary: no program interpreter, no shared libraries;
# with ARCH (amd64 or arm64), also built for that architecture.
#   check_static.sh BINARY [ARCH]
set -eu
bin=$1
arch=${2:-}
if readelf -lW "$bin" | grep -q 'INTERP'; then echo "$bin has a program interpreter: not static"; exit 1; fi
if readelf -dW "$bin" | grep -q 'NEEDED'; then echo "$bin needs shared libraries:"; readelf -dW "$bin" | grep NEEDED; exit 1; fi
if [ -n "$arch" ]; then
  case $arch in
    amd64) want='Advanced Micro Devices X86-64' ;;
    arm64) want='AArch64' ;;
    *) echo "check_static.sh: unknown architecture '$arch' (amd64 or arm64)"; exit 2 ;;
  esac
  machine=$(readelf -hW "$bin" | sed -n 's/^ *Machine: *//p')
  if [ "$machine" != "$want" ]; then echo "$bin is built for '$machine', not $arch ('$want')"; exit 1; fi
fi
echo "$bin is static${arch:+ and $arch} ($(wc -c < "$bin") bytes)"
