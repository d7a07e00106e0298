# Sourced by the benchmark and profiling scripts: a scratch directory $WORK (/tmp/hotwrap-NAME.*)
# and a list $pids of the processes they start; at exit every one of those is killed, then the
# directory goes.
#   . scripts/scratch.sh NAME
# shellcheck shell=bash
WORK=$(mktemp -d "/tmp/hotwrap-$1.XXXXXX")
pids=()
scratch_cleanup() {
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap scratch_cleanup EXIT
