#!/bin/sh
# The release binary parses untrusted HTTP: it must carry the hardening of cmake/Flags.cmake.
#   check_hardening.sh BINARY OBJECT-OR-ARCHIVE...
# The binary is stripped and glibc's own code calls the checking functions anyway, so the compile
# flags are checked in the objects the binary is linked from; the link flags in the binary.
set -eu
bin=$1
shift
fail=0
bad() { echo "$bin: $*"; fail=1; }

phdrs=$(readelf -lW "$bin")
echo "$phdrs" | grep -q 'GNU_RELRO' || bad "no GNU_RELRO segment (-Wl,-z,relro)"
echo "$phdrs" | grep 'GNU_STACK' | grep -q 'RWE' && bad "executable stack (-Wl,-z,noexecstack)"
# A static non-PIE binary has no dynamic section and so nothing to bind lazily.
if readelf -dW "$bin" | grep -q 'Dynamic section'; then
  readelf -dW "$bin" | grep -Eq 'BIND_NOW|FLAGS_1.*NOW' || bad "lazy binding (-Wl,-z,now)"
fi

refs=$(nm -A "$@" 2>/dev/null | grep ' U ' || true)
echo "$refs" | grep -q ' U __stack_chk_fail$' || bad "no stack canary in $* (-fstack-protector-strong)"
echo "$refs" | grep -v '__stack_chk_fail$' | grep -Eq ' U __[a-z_]+_chk$' ||
  bad "no fortified call in $* (-D_FORTIFY_SOURCE)"

[ "$fail" -eq 0 ] && echo "$bin is hardened: RELRO, no executable stack, stack canaries, fortified calls"
exit "$fail"
