#!/usr/bin/env bash
# Writes cmake/hot-symbols.txt: the functions hotwrap runs on every call, hottest first. The
# release link (lld's --symbol-ordering-file, see CMakeLists.txt) places them next to each other,
# so that a call touches a few pages of code instead of a hundred scattered ones. That matters
# because every call runs with cold caches and TLB: the command's exec in between evicts them.
#
#   scripts/hot-symbols.sh        (needs perf, from Debian's linux-perf, and root for it)
#
# It builds the release flags with symbols (build-hot/), serves 20000 calls of `cat` in the http
# contract (TCP) and as many in Fn's http-stream (unix socket), samples hotwrap alone with
# `perf record`, and lists every function sampled, in order of samples, the two runs merged.
# Rerun it after a change to the per-call path; a stale entry is only ignored by the linker.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
command -v perf >/dev/null || { echo "scripts/hot-symbols.sh: needs perf (apt-get install linux-perf)" >&2; exit 1; }
CALLS=${CALLS:-20000}
# shellcheck source=scripts/scratch.sh
. "$ROOT/scripts/scratch.sh" hot

# Release's -Os, with symbols, and the default linker: what is measured is which functions run.
cmake -S . -B build-hot -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHOTWRAP_TESTS=OFF \
  -DCMAKE_C_FLAGS_RELWITHDEBINFO="-Os -g -DNDEBUG" -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-Os -g -DNDEBUG" \
  >"$WORK/cmake.log" 2>&1 || { cat "$WORK/cmake.log" >&2; exit 1; }
cmake --build build-hot -j2 --target hotwrap >>"$WORK/cmake.log" 2>&1 ||
  { cat "$WORK/cmake.log" >&2; exit 1; }
gcc -O2 -pthread -o "$WORK/client" bench/client.c bench/bare_spawn.c

# sample NAME ADDRESS: samples the running hotwrap ($hw) over $CALLS calls to ADDRESS.
sample() {
  "$WORK/client" calls "$2" 200 1024
  perf record -q -e cpu-clock -F 20000 --no-inherit -p "$hw" -o "$WORK/$1.data" 2>/dev/null &
  local rec=$!
  sleep 0.5
  "$WORK/client" calls "$2" "$CALLS" 1024
  kill -INT "$rec"
  wait "$rec" 2>/dev/null || true
  kill -TERM "$hw"
  wait "$hw" 2>/dev/null || true
  perf report -i "$WORK/$1.data" --no-children --sort sym --no-demangle 2>/dev/null |
    awk '$2 == "[.]" { print $3 }' >"$WORK/$1.txt"
}

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
HOTWRAP_CONTRACT=http HOTWRAP_PORT=$port HOTWRAP_METRICS_PORT=0 TMPDIR=$WORK HOTWRAP_DRAIN_MS=0 \
  build-hot/hotwrap cat 2>"$WORK/http.log" &
hw=$!
pids+=("$hw")
for _ in $(seq 300); do curl -sf "127.0.0.1:$port/_/health" >/dev/null 2>&1 && break; sleep 0.01; done
sample http "tcp:$port"

mkdir "$WORK/fn"
FN_FORMAT=http-stream FN_LISTENER="unix:$WORK/fn/lsnr.sock" build-hot/hotwrap cat 2>"$WORK/fn.log" &
hw=$!
pids+=("$hw")
for _ in $(seq 300); do [[ -S $WORK/fn/lsnr.sock ]] && break; sleep 0.01; done
sample fn "$WORK/fn/lsnr.sock"

# One name a line, nothing else (the linker's format); addresses perf could not name are left out.
awk '!seen[$0]++ && $0 !~ /^(0x|\[)/' "$WORK/http.txt" "$WORK/fn.txt" >cmake/hot-symbols.txt
echo "wrote cmake/hot-symbols.txt: $(wc -l <cmake/hot-symbols.txt) functions"
