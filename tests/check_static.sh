#!/bin/sh
# The release artifact must be one static binary: no program interpreter, no shared libraries.
set -eu
bin=$1
if readelf -lW "$bin" | grep -q 'INTERP'; then echo "$bin has a program interpreter: not static"; exit 1; fi
if readelf -dW "$bin" | grep -q 'NEEDED'; then echo "$bin needs shared libraries:"; readelf -dW "$bin" | grep NEEDED; exit 1; fi
echo "$bin is static ($(wc -c < "$bin") bytes)"
