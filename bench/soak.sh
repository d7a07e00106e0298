#!/usr/bin/env bash
# Soak: one hotwrap (http-stream) answers N calls of every kind — echo, failure (exit 3), deadline,
# 1-4 MiB bodies streamed both ways, callers hanging up at every stage — and must end with the
# descriptors, children and memory it had after its warm-up. Prints the figures; exits non-zero on
# any leak, leftover process, unexpected answer, or unclean exit. The driver is bench/soak_driver.py
# (Python stdlib only); every wait in it is bounded and all traffic stays on the unix socket.
#
#   bench/soak.sh --calls N [--workers W] [--max-seconds S] BINARY
#   scripts/test.sh soak             (N = $HOTWRAP_SOAK_CALLS, default 5000)
set -euo pipefail
usage() {
  echo "usage: bench/soak.sh --calls N [--workers W] [--max-seconds S] BINARY" >&2
  exit 2
}
calls=""
extra=()
while (($#)); do
  case $1 in
    --calls) calls=${2:-}; shift 2 || usage ;;
    --calls=*) calls=${1#*=}; shift ;;
    --workers | --max-seconds) extra+=("$1" "${2:-}"); shift 2 || usage ;;
    --workers=* | --max-seconds=*) extra+=("$1"); shift ;;
    -h | --help) usage ;;
    -*) echo "bench/soak.sh: unknown option $1" >&2; usage ;;
    *) break ;;
  esac
done
(($# == 1)) || usage
[[ $calls =~ ^[1-9][0-9]*$ ]] || usage
binary=$1
[[ -x $binary ]] || { echo "bench/soak.sh: $binary is not an executable" >&2; exit 2; }
command -v python3 >/dev/null || { echo "bench/soak.sh: python3 not found (scripts/deps.sh test)" >&2; exit 1; }
exec python3 "$(dirname "$0")/soak_driver.py" --calls "$calls" "${extra[@]}" "$binary"
