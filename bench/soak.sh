#!/usr/bin/env bash
# Soak: one hotwrap (http-stream) answers N calls of every kind — echo, failure (exit 3), deadline,
# 1-4 MiB bodies streamed both ways, callers hanging up at every stage — and must end with the
# descriptors, children and memory it had after its warm-up. Prints the figures; exits non-zero on
# any leak, leftover process, unexpected answer, or unclean exit. The driver is bench/soak_driver.py
# (Python stdlib only); every wait in it is bounded and all traffic stays on the unix socket.
#
#   bench/soak.sh --calls N [--workers W] [--max-seconds S] [--only KIND] BINARY
#   scripts/test.sh soak             (N = $HOTWRAP_SOAK_CALLS, default 5000)
set -euo pipefail
if (($# < 3)) || [[ $1 != --calls* ]]; then
  echo "usage: bench/soak.sh --calls N [--workers W] [--max-seconds S] [--only KIND] BINARY" >&2
  exit 2
fi
binary=${*: -1}
[[ -x $binary ]] || { echo "bench/soak.sh: $binary is not an executable" >&2; exit 2; }
command -v python3 >/dev/null || { echo "bench/soak.sh: python3 not found (scripts/deps.sh test)" >&2; exit 1; }
exec python3 "$(dirname "$0")/soak_driver.py" "$@"
