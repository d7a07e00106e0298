#!/usr/bin/env bash
# Runs the shell blocks of README.md and of every examples/*/README.md the way a user pastes
# them: each ```sh block as it is written, in the directory of its README, with the container
# engine the caller set up (DOCKER_HOST). Blocks that need what no package brings here are
# listed, not run: the Fn CLI and an Fn server (`fn ...`), and the project's own set-up commands
# (scripts/demo.sh and scripts/test.sh, which the test suite runs itself).
#
#   tests/readme/run.sh      prints "PASS/FAIL/NOT RUN <file>:<line>" per block, then
#                            "N passed, M failed"; exits non-zero when a block fails
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WORK=$(mktemp -d /tmp/hwreadme.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
passed=0 failed=0

# Writes each ```sh block of $1 to $WORK/<n>.sh and prints "<n> <line>" for it.
blocks() {
  awk -v dir="$WORK" -v base="$2" '
    /^```sh[[:space:]]*$/ { n++; inb = 1; file = dir "/" base "-" n ".sh"; print n, NR; next }
    /^```/ { inb = 0; next }
    inb { print > file }
  ' "$1"
}

for readme in "$ROOT/README.md" "$ROOT"/examples/*/README.md; do
  rel=${readme#"$ROOT"/}
  base=$(echo "$rel" | tr '/.' '__')
  dir=$(dirname "$readme")
  while read -r n line; do
    block="$WORK/$base-$n.sh"
    if grep -qE '(^|[;&|(]|[[:space:]])fn [a-z]|scripts/(test|demo)\.sh' "$block"; then
      echo "NOT RUN $rel:$line (needs the Fn CLI and an Fn server, or is the suite's own set-up)"
      continue
    fi
    log="$WORK/$base-$n.log"
    # Containers the block names are removed before and after it: a block that failed half-way
    # must not make the next run fail on a name in use.
    names=$(grep -oE -- '--name[ =][^ ]+' "$block" | sed -E 's/--name[ =]//')
    remove() { for c in $names; do docker rm -f "$c" >/dev/null 2>&1 || true; done; }
    remove
    start=$SECONDS
    if (cd "$dir" && timeout 900 bash -eo pipefail "$block") >"$log" 2>&1; then
      echo "PASS $rel:$line ($((SECONDS - start)) s)"
      passed=$((passed + 1))
    else
      echo "FAIL $rel:$line ($((SECONDS - start)) s): $(tail -n 5 "$log" | tr '\n' '|' | cut -c1-400)"
      failed=$((failed + 1))
    fi
    remove
  done < <(blocks "$readme" "$base")
done
echo "$passed passed, $failed failed"
((failed == 0))
