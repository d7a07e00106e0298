#!/usr/bin/env bash
# hotwrap benchmarks: every figure as a ratio to a baseline measured in the same run (interleaved,
# repeated, medians), or as a bound. Prints a table and writes bench/results.md, bench/results.svg
# and the raw figures, bench/results.env.
#
#   bench/run.sh                     builds the static release binary in build-bench/ and measures it
#   HOTWRAP_BIN=/path bench/run.sh   measures that binary instead (it must be the static release one)
#
# Needs root only to install missing Debian packages (apt-get, idempotent).
set -euo pipefail
started=$(date +%s.%N)
BENCH=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$BENCH/.." && pwd)

# Sizes of the runs (override from the environment to experiment; the defaults take ~1.5 min).
LAT_BATCHES=${LAT_BATCHES:-40}   # row 1: batches per side, interleaved (short: the load changes fast)
LAT_CALLS=${LAT_CALLS:-50}       # row 1: calls per batch
LAT_ENV=${LAT_ENV:-}             # row 1: settings for its hotwrap, e.g. LAT_ENV=HOTWRAP_CGI=1
STREAM_MIB=${STREAM_MIB:-512}    # row 2: body size
STREAM_REPS=${STREAM_REPS:-11}   # row 2: pairs (hotwrap, pipeline) back to back, order alternating
STREAM_NULL_REPS=${STREAM_NULL_REPS:-3}  # row 2 check: the same call against the null server
STREAM_CHUNK=${STREAM_CHUNK:-32768}  # row 2: request chunk size (Go's io.Copy buffer)
STARTS=${STARTS:-15}             # row 6
PRE_CALLS=${PRE_CALLS:-20}       # row 7: calls per side, interleaved
PRE_SLEEP_MS=${PRE_SLEEP_MS:-200}  # row 7: idle time before each call
CONC_THREADS=${CONC_THREADS:-8}  # row 10: callers at once
CONC_CALLS=${CONC_CALLS:-100}    # row 10: calls per caller per repetition
CONC_REPS=${CONC_REPS:-7}        # row 10: repetitions, order alternating

log() { printf '\n== %s\n' "$*" >&2; }

# ---- dependencies (fresh CI machines) -----------------------------------------------------------
need=()
for p in build-essential cmake libevent-dev nlohmann-json3-dev node-llhttp; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
command -v node >/dev/null || need+=(nodejs)
command -v python3 >/dev/null || need+=(python3)
if ((${#need[@]})); then
  log "installing ${need[*]}"
  if [[ $(id -u) -ne 0 ]]; then
    echo "bench/run.sh: missing packages: ${need[*]} (run as root, or apt-get install them)" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# ---- builds -----------------------------------------------------------------------------------
# shellcheck source=scripts/scratch.sh
. "$ROOT/scripts/scratch.sh" bench

if [[ -z ${HOTWRAP_BIN:-} ]]; then
  log "building the static release binary (build-bench/)"
  cmake -S "$ROOT" -B "$ROOT/build-bench" -DCMAKE_BUILD_TYPE=Release -DHOTWRAP_TESTS=OFF >"$WORK/cmake.log" 2>&1 ||
    { cat "$WORK/cmake.log" >&2; exit 1; }
  cmake --build "$ROOT/build-bench" -j2 --target hotwrap >>"$WORK/cmake.log" 2>&1 ||
    { cat "$WORK/cmake.log" >&2; exit 1; }
  HOTWRAP_BIN=$ROOT/build-bench/hotwrap
fi
HW=$(readlink -f "$HOTWRAP_BIN")
if readelf -lW "$HW" | grep -q INTERP; then
  echo "bench/run.sh: $HW is not static; the benchmarks are about the static release binary" >&2
  exit 1
fi

log "building the benchmark programs"
CFLAGS=(-O2 -Wall -Wextra)
gcc "${CFLAGS[@]}" -pthread -o "$WORK/client" "$BENCH/client.c" "$BENCH/bare_spawn.c"
gcc "${CFLAGS[@]}" -o "$WORK/null_server" "$BENCH/null_server.c" "$BENCH/bare_spawn.c"
gcc "${CFLAGS[@]}" -o "$WORK/startup" "$BENCH/startup.c"
# The floor: static glibc + libevent_core, built as hotwrap's release binary is (static, stripped).
gcc -static -Os -s -ffunction-sections -fdata-sections -Wl,--gc-sections -o "$WORK/floor" \
  "$BENCH/floor.c" -levent_core 2>"$WORK/floor.log" || { cat "$WORK/floor.log" >&2; exit 1; }

R=$WORK/results.env
: >"$R"
put() { printf '%s=%s\n' "$1" "$2" >>"$R"; }
put date "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
put commit "$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
put dirty "$(git -C "$ROOT" status --porcelain -- hotwrap contracts CMakeLists.txt cmake 2>/dev/null | wc -l)"
put kernel "$(uname -r)"
put cpus "$(nproc)"
put cpu_model "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
put load_start "$(cut -d' ' -f1-3 /proc/loadavg)"
put node "$(node --version)"

# Starts hotwrap in the background: start_hotwrap NAME [ENV=VALUE...] -- COMMAND...
# Sets $hw_pid; the socket is $WORK/NAME/lsnr.sock once it returns.
start_hotwrap() {
  local name=$1
  shift
  local envs=()
  while [[ $1 != -- ]]; do envs+=("$1"); shift; done
  shift
  mkdir -p "$WORK/$name"
  env "${envs[@]}" FN_FORMAT=http-stream FN_LISTENER="unix:$WORK/$name/lsnr.sock" \
    "$HW" "$@" 2>>"$WORK/$name.log" &
  hw_pid=$!
  pids+=("$hw_pid")
  for _ in $(seq 500); do
    [[ -L $WORK/$name/lsnr.sock ]] && return 0
    sleep 0.01
  done
  echo "bench/run.sh: hotwrap ($name) did not create its socket" >&2
  cat "$WORK/$name.log" >&2
  exit 1
}
stop() { kill -TERM "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
kib() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }  # kib PID VmRSS

"$WORK/null_server" "$WORK/null.sock" &
null_pid=$!
pids+=("$null_pid")
for _ in $(seq 200); do [[ -S $WORK/null.sock ]] && break; sleep 0.01; done

# ---- 1. per-call latency -------------------------------------------------------------------------
log "1. per-call latency: cat, 1 KiB, $LAT_BATCHES x $LAT_CALLS calls per side (hotwrap | bare spawn | null server)"
# shellcheck disable=SC2086  # LAT_ENV: NAME=VALUE words, split on purpose
start_hotwrap lat $LAT_ENV -- cat
put lat_env "$LAT_ENV"
"$WORK/client" lat "$WORK/lat/lsnr.sock" "$WORK/null.sock" "$LAT_BATCHES" "$LAT_CALLS" 1024 >>"$R"
stop "$hw_pid"

# ---- 2-3. streaming, peak RSS --------------------------------------------------------------------
log "2. ${STREAM_MIB} MiB through cat in one call, $STREAM_REPS pairs (hotwrap | pipeline), then the null server"
start_hotwrap stream -- cat
"$WORK/client" stream "$WORK/stream/lsnr.sock" "$WORK/null.sock" $((STREAM_MIB << 20)) "$STREAM_REPS" \
  "$STREAM_CHUNK" "$STREAM_NULL_REPS" >>"$R"
put stream_hwm_kib "$(kib "$hw_pid" VmHWM)"
# CPU of the streaming calls: hotwrap's own (utime+stime) and its reaped children's (the cats).
read -r -a st <"/proc/$hw_pid/stat"
put stream_cpu_hotwrap_s "$(awk -v t="$(getconf CLK_TCK)" -v u="${st[13]}" -v s="${st[14]}" -v n="$STREAM_REPS" 'BEGIN { printf "%.3f", (u + s) / t / n }')"
put stream_cpu_cat_s "$(awk -v t="$(getconf CLK_TCK)" -v u="${st[15]}" -v s="${st[16]}" -v n="$STREAM_REPS" 'BEGIN { printf "%.3f", (u + s) / t / n }')"
put stream_rss_after_kib "$(kib "$hw_pid" VmRSS)"
stop "$hw_pid"

# ---- 4. idle RSS ---------------------------------------------------------------------------------
log "4. RSS after 50 calls, idle (hotwrap | floor program), 3 times"
idle=() floor_rss=() idle_hwm=()
for i in 1 2 3; do
  start_hotwrap "idle$i" -- cat
  "$WORK/client" calls "$WORK/idle$i/lsnr.sock" 50 1024
  "$WORK/floor" &
  fp=$!
  pids+=("$fp")
  sleep 0.3
  idle+=("$(kib "$hw_pid" VmRSS)")
  idle_hwm+=("$(kib "$hw_pid" VmHWM)")
  floor_rss+=("$(kib "$fp" VmRSS)")
  stop "$hw_pid"
  kill -KILL "$fp"
  wait "$fp" 2>/dev/null || true
done
med() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
put idle_rss_kib "$(med "${idle[@]}")"
put idle_hwm_kib "$(med "${idle_hwm[@]}")"
put floor_rss_kib "$(med "${floor_rss[@]}")"

# ---- 5. size -------------------------------------------------------------------------------------
put size_bytes "$(stat -c %s "$HW")"
put floor_size_bytes "$(stat -c %s "$WORK/floor")"
put stripped "$(readelf -SW "$HW" | grep -q '\.symtab' && echo no || echo yes)"

# ---- 6. start-up ---------------------------------------------------------------------------------
log "6. exec -> lsnr.sock, $STARTS starts (inotify)"
mkdir -p "$WORK/start"
"$WORK/startup" "$HW" "$WORK/floor" "$WORK/start" "$STARTS" >>"$R"

# ---- 7. prespawn ---------------------------------------------------------------------------------
log "7. node func.js, $PRE_CALLS calls per side after ${PRE_SLEEP_MS} ms idle (prespawned | per-call spawn | bare prespawned)"
start_hotwrap hot HOTWRAP_PRESPAWN=1 -- node "$ROOT/examples/node/func.js"
hot_pid=$hw_pid
start_hotwrap cold -- node "$ROOT/examples/node/func.js"
cold_pid=$hw_pid
sleep 0.5  # the first prespawned node boots
"$WORK/client" prespawn "$WORK/hot/lsnr.sock" "$WORK/cold/lsnr.sock" "$PRE_CALLS" "$PRE_SLEEP_MS" \
  node "$ROOT/examples/node/func.js" >>"$R"
stop "$hot_pid"
stop "$cold_pid"
stop "$null_pid"

# ---- 8-12. the http contract (OpenFaaS, Knative, Cloud Run) on TCP --------------------------------
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# Starts hotwrap in the http contract with its defaults (metrics on, on a free port of their own;
# no drain at SIGTERM, which only makes stopping it slower):
# start_http NAME [PREFIX...] -- COMMAND...; sets $hw_pid and $hw_port.
start_http() {
  local name=$1
  shift
  local pre=()
  while [[ $1 != -- ]]; do pre+=("$1"); shift; done
  shift
  hw_port=$(free_port)
  HOTWRAP_CONTRACT=http HOTWRAP_PORT=$hw_port HOTWRAP_METRICS_PORT=$(free_port) TMPDIR=$WORK HOTWRAP_DRAIN_MS=0 \
    "${pre[@]}" "$HW" "$@" 2>>"$WORK/$name.log" &
  hw_pid=$!
  pids+=("$hw_pid")
  for _ in $(seq 500); do
    curl -sf "127.0.0.1:$hw_port/_/health" >/dev/null 2>&1 && return 0
    sleep 0.01
  done
  echo "bench/run.sh: hotwrap ($name, http) does not answer on port $hw_port" >&2
  cat "$WORK/$name.log" >&2
  exit 1
}
# Rows 8, 9 and 11's third side, their floor: the null server over TCP as well, spawning `cat` for
# each call with the bare loop's code (null_server --spawn), placed as hotwrap is.
# start_floor [PREFIX...]; sets $floor_pid and $floor_port.
start_floor() {
  floor_port=$(free_port)
  "$@" "$WORK/null_server" --spawn "tcp:$floor_port" &
  floor_pid=$!
  pids+=("$floor_pid")
  for _ in $(seq 200); do
    (exec 3<>"/dev/tcp/127.0.0.1/$floor_port") 2>/dev/null && return 0
    sleep 0.01
  done
  echo "bench/run.sh: the spawning null server does not listen on port $floor_port" >&2
  exit 1
}

log "8. http contract: per-call latency, cat, 1 KiB, on TCP"
start_http hlat -- cat
start_floor
"$WORK/client" lat "tcp:$hw_port" "tcp:$floor_port" "$LAT_BATCHES" "$LAT_CALLS" 1024 |
  sed 's/^/http_/' >>"$R"
stop "$hw_pid"
stop "$floor_pid"

log "9. http contract: per-call latency with hotwrap, the client and the bare loop all on CPU 0"
start_http hpin taskset -c 0 -- cat
start_floor taskset -c 0
taskset -c 0 "$WORK/client" lat "tcp:$hw_port" "tcp:$floor_port" "$LAT_BATCHES" "$LAT_CALLS" 1024 |
  sed 's/^/pin_/' >>"$R"
stop "$hw_pid"
stop "$floor_pid"

log "10. http contract: $CONC_THREADS callers at once vs $CONC_THREADS bare spawn loops"
start_http hconc -- cat
"$WORK/client" conc "tcp:$hw_port" "$CONC_THREADS" "$CONC_CALLS" 1024 "$CONC_REPS" >>"$R"
stop "$hw_pid"

log "11. http contract: ${STREAM_MIB} MiB through cat in one call vs the pipeline"
"$WORK/null_server" "$WORK/null2.sock" &
null_pid=$!
pids+=("$null_pid")
for _ in $(seq 200); do [[ -S $WORK/null2.sock ]] && break; sleep 0.01; done
start_http hstream -- cat
start_floor
"$WORK/client" stream "tcp:$hw_port" "$WORK/null2.sock" $((STREAM_MIB << 20)) "$STREAM_REPS" \
  "$STREAM_CHUNK" 1 "tcp:$floor_port" | sed 's/^/http_/' >>"$R"
put http_stream_hwm_kib "$(kib "$hw_pid" VmHWM)"
stop "$hw_pid"
stop "$null_pid"
stop "$floor_pid"

log "12. http contract: RSS after 50 calls, idle, 3 times"
hidle=()
for i in 1 2 3; do
  start_http "hidle$i" -- cat
  "$WORK/client" calls "tcp:$hw_port" 50 1024
  sleep 0.3
  hidle+=("$(kib "$hw_pid" VmRSS)")
  stop "$hw_pid"
done
put http_idle_rss_kib "$(med "${hidle[@]}")"

# hotwrap's own complaints during the run, if any (info lines are start/stop only).
put hotwrap_warnings "$(cat "$WORK"/*.log | grep -c -E 'hotwrap: (warn|error)' || true)"
put load_end "$(cut -d' ' -f1-3 /proc/loadavg)"
put runtime_s "$(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN { printf "%.0f", b - a }')"
if grep -q -E 'hotwrap: (warn|error)' "$WORK"/*.log; then
  log "hotwrap warnings/errors during the run:"
  grep -h -E 'hotwrap: (warn|error)' "$WORK"/*.log | sort | uniq -c | head -20 >&2
fi

cp "$R" "$BENCH/results.env"  # the raw figures
python3 "$BENCH/report.py" "$R" "$BENCH/results.md" "$BENCH/results.svg"
