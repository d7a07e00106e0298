#!/usr/bin/env bash
# Container tests: build the hotwrap image (root Dockerfile) and every example image, run them
# with the settings the Fn agent uses (uid 1000, read-only root, no capabilities, 50 pids,
# 350 files, tini-style init, /tmp/iofs bind mount) and call them over the unix socket the way
# the agent does (chunked body, Fn-Call-Id, Fn-Deadline).
#
#   tests/container/run.sh
#
# Engine: DOCKER_HOST (or the default Docker socket) when it answers; otherwise
# scripts/container-engine.sh sets up podman serving the Docker API. When no engine can be set
# up the suite prints "SKIPPED: container tests (why)" and exits 0 — or fails when CI is set.
# Prints one "PASS name" / "FAIL name (why)" line per test and ends with "N passed, M failed".
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SOCK="${HOTWRAP_PODMAN_SOCK:-/tmp/podman.sock}"
PREFIX="hotwrap-ct-$$"
WORK="$(mktemp -d /tmp/hwct.XXXXXX)"
chmod 0755 "$WORK"
PASSED=0
FAILED=0
CONTAINERS=()

pass() { echo "PASS $1"; PASSED=$((PASSED + 1)); }
fail() { echo "FAIL $1 ($2)"; FAILED=$((FAILED + 1)); }
now_ms() { date +%s%3N; }
secs_since() { local d=$(($(now_ms) - $1)); printf '%d.%d' $((d / 1000)) $((d % 1000 / 100)); }
# A body or an output, short and on one line, for failure messages.
show() { head -c "${2:-120}" "$1" | od -An -c | tr -s ' \n' ' ' | sed 's/^ //; s/ $//'; }
# The last lines of a container's log (hotwrap's stderr), on one line.
logs_of() { docker logs --tail 4 "$1" 2>&1 | tr '\n' '|' | cut -c1-300; }

# shellcheck disable=SC2317  # run by the EXIT trap
cleanup() {
  local c
  for c in "${CONTAINERS[@]}"; do
    docker unpause "$c" >/dev/null 2>&1 || true
    docker rm -f "$c" >/dev/null 2>&1 || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

finish() {
  echo "$PASSED passed, $FAILED failed"
  [ "$FAILED" -eq 0 ] && exit 0
  exit 1
}

# ---------------------------------------------------------------------------------------------
# Engine
no_engine() {
  if [ -n "${CI:-}" ]; then
    fail "container engine" "$1"
    finish
  fi
  echo "SKIPPED: container tests ($1)"
  exit 0
}

command -v docker >/dev/null || no_engine "the docker CLI is not installed"
command -v curl >/dev/null || no_engine "curl is not installed"
t_engine=$(now_ms)
engine_reachable() { timeout 20 docker version >/dev/null 2>&1; }
if [ "${DOCKER_HOST:-}" != "unix://$SOCK" ] && { [ -n "${DOCKER_HOST:-}" ] || [ -S /var/run/docker.sock ]; } \
   && engine_reachable; then
  engine="$(docker version --format '{{.Server.Version}}' 2>/dev/null || echo '?') at ${DOCKER_HOST:-/var/run/docker.sock}"
else
  # Podman serving the Docker API; the set-up is idempotent and quick when already done.
  if ! out="$("$ROOT/scripts/container-engine.sh" 2>&1)"; then
    no_engine "$(printf '%s\n' "$out" | grep 'container-engine:' | tail -n 1)"
  fi
  export DOCKER_HOST="unix://$SOCK"
  engine_reachable || no_engine "docker CLI cannot reach $DOCKER_HOST"
  engine="podman $(docker version --format '{{.Server.Version}}' 2>/dev/null) at $DOCKER_HOST"
fi
pass "container engine ready: $engine [$(secs_since "$t_engine") s]"

# Limits as Fn sets them, kept within this host's hard limits (a container may not raise them).
hard() { local v; v="$(ulimit -H "$1")"; [ "$v" = unlimited ] && v=$2; echo $((v < $2 ? v : $2)); }
NOFILE=$(hard -n 350)
NPROC=$(hard -u 1000)
FN_OPTS=(--user 1000:1000 --read-only --tmpfs /tmp --cap-drop all --security-opt no-new-privileges
         --pids-limit 50 --ulimit "nofile=$NOFILE:$NOFILE" --ulimit "nproc=$NPROC:$NPROC"
         --memory 128m --memory-swap 128m
         -e FN_MEMORY=128 -e FN_TYPE=sync -e FN_APP_ID=01APPHOTWRAPCT -e FN_FN_ID=01FNHOTWRAPCT)

# ---------------------------------------------------------------------------------------------
# Images
build() { # name tag context
  local t0 log="$WORK/build-$1.log"
  t0=$(now_ms)
  if docker build --network host -t "$2" "$3" >"$log" 2>&1; then
    pass "build $1 [$(secs_since "$t0") s]"
  else
    fail "build $1" "docker build failed after $(secs_since "$t0") s: $(grep -v '^ *$' "$log" | tail -n 3 | tr '\n' '|' | cut -c1-400)"
    return 1
  fi
}
# Copies a file out of an image.
copy_out() { # image path dest
  local c="$PREFIX-copy-$RANDOM"
  docker create --name "$c" "$1" >/dev/null 2>&1 || return 1
  docker cp "$c:$2" "$3" >/dev/null 2>&1 || { docker rm "$c" >/dev/null 2>&1; return 1; }
  docker rm "$c" >/dev/null 2>&1 || true
}

build "image hotwrap" hotwrap "$ROOT" || finish

if ! copy_out hotwrap /hotwrap "$WORK/hotwrap"; then
  fail "image hotwrap: /hotwrap is a static executable" "cannot copy /hotwrap out of the image"
elif readelf -lW "$WORK/hotwrap" 2>/dev/null | grep -q INTERP || readelf -dW "$WORK/hotwrap" 2>/dev/null | grep -q NEEDED; then
  fail "image hotwrap: /hotwrap is a static executable" "$(file -b "$WORK/hotwrap" | cut -c1-200)"
elif [ "$(stat -c %a "$WORK/hotwrap")" != 755 ]; then
  fail "image hotwrap: /hotwrap is a static executable" "mode $(stat -c %a "$WORK/hotwrap"), want 755"
else
  pass "image hotwrap: /hotwrap is a static executable ($(stat -c %s "$WORK/hotwrap") bytes)"
fi

# run_once <docker run args...>: runs a container to its end; sets RC (its exit code) and OUTPUT.
# (No `docker run --rm`: through podman 4.3's Docker API it reports exit code 0 whatever the
# container's was; the exit code is read from the stopped container instead.)
run_once() {
  local c="$PREFIX-once-$RANDOM"
  CONTAINERS+=("$c")
  OUTPUT="$(docker run --name "$c" "$@" 2>&1)" || true
  RC="$(docker inspect -f '{{.State.ExitCode}}' "$c" 2>/dev/null || echo "?")"
  docker rm -f "$c" >/dev/null 2>&1 || true
}

run_once --user 1000:1000 --read-only --cap-drop all hotwrap --version
if [ "$RC" = 0 ] && [[ "$OUTPUT" == "hotwrap 0.1.0 (commit "*", linux/"*")" ]]; then
  pass "image hotwrap: --version as uid 1000 on a read-only root"
else
  fail "image hotwrap: --version as uid 1000 on a read-only root" "exit $RC, output: $(printf '%s' "$OUTPUT" | head -c 200)"
fi

run_once hotwrap
rc=$RC
out=$OUTPUT
if [ "$rc" = 2 ] && [ "$(printf '%s\n' "$out" | wc -l)" -eq 1 ]; then
  pass "image hotwrap: no command -> exit 2 and one line"
else
  fail "image hotwrap: no command -> exit 2 and one line" "exit $rc, output: $(printf '%s' "$out" | head -c 200 | tr '\n' '|')"
fi

declare -A BUILT
for ex in node rev convert shell-form openfaas cgi; do
  if build "example $ex" "hotwrap-example-$ex" "$ROOT/examples/$ex"; then
    # The layer cache must not hand an example an older /hotwrap.
    if copy_out "hotwrap-example-$ex" /hotwrap "$WORK/hotwrap-$ex" && cmp -s "$WORK/hotwrap" "$WORK/hotwrap-$ex"; then
      BUILT[$ex]=1
    else
      fail "example $ex carries the freshly built /hotwrap" "/hotwrap in hotwrap-example-$ex differs from the hotwrap image's"
    fi
  fi
done

# ---------------------------------------------------------------------------------------------
# Running functions the way Fn does

# stop_check <test name>: docker stop -t 10 must end the container within 2 s, exit code 0, and
# leave the iofs directory empty (hotwrap removes both socket files on SIGTERM).
stop_check() {
  local t0 ms code left
  t0=$(now_ms)
  docker stop -t 10 "$CNAME" >/dev/null 2>"$WORK/stop.err" || true
  ms=$(($(now_ms) - t0))
  code="$(docker inspect -f '{{.State.ExitCode}}' "$CNAME" 2>&1)"
  left="$(find "$DIR" -mindepth 1 -printf '%f ')"
  if [ "$ms" -ge 2000 ] || [ "$code" != 0 ]; then
    fail "$1" "took $ms ms (limit 2000), exit code $code; log: $(logs_of "$CNAME")"
  elif [ -n "$left" ]; then
    fail "$1" "exit 0 after $ms ms but left in the iofs dir: $left; log: $(logs_of "$CNAME")"
  else
    pass "$1 [$ms ms]"
  fi
}

# start <name> <image> <init: yes|no> [command...] — sets DIR (the host side of /tmp/iofs) and CNAME.
# RUN_ENV: extra `-e NAME=value` options for this container.
RUN_ENV=()
start() {
  local name=$1 image=$2 init=$3
  shift 3
  CNAME="$PREFIX-$name"
  DIR="$WORK/iofs-$name"
  mkdir -p "$DIR"
  chmod 0777 "$DIR"
  local init_opt=()
  [ "$init" = yes ] && init_opt=(--init)
  CONTAINERS+=("$CNAME")
  docker run -d --name "$CNAME" "${FN_OPTS[@]}" "${RUN_ENV[@]}" "${init_opt[@]}" -v "$DIR:/tmp/iofs" \
    -e FN_FORMAT=http-stream -e FN_LISTENER=unix:/tmp/iofs/lsnr.sock \
    "$image" "$@" >/dev/null 2>"$WORK/run-$name.err"
}

# launch <name> <image> <init: yes|no> [command...] — start, then wait until the socket is ready.
launch() {
  if ! start "$@"; then
    fail "$1: container starts" "docker run: $(tr '\n' '|' <"$WORK/run-$1.err" | cut -c1-300)"
    return 1
  fi
  wait_ready "$1: socket ready"
}

# wait_ready <test name>: lsnr.sock must become a symlink to phonylsnr.sock, a 0666 socket, within
# Fn's 5 s start timeout (polled for at most 10 s).
wait_ready() {
  local t0
  t0=$(now_ms)
  for _ in $(seq 100); do
    [ -L "$DIR/lsnr.sock" ] && [ -S "$DIR/phonylsnr.sock" ] && break
    sleep 0.1
  done
  local ms=$(($(now_ms) - t0))
  if ! [ -L "$DIR/lsnr.sock" ]; then
    fail "$1" "no $DIR/lsnr.sock after 10 s; state $(docker inspect -f '{{.State.Status}} exit {{.State.ExitCode}}' "$CNAME" 2>&1); log: $(logs_of "$CNAME")"
    return 1
  fi
  local target mode
  target="$(readlink "$DIR/lsnr.sock")"
  mode="$(stat -c %a "$DIR/phonylsnr.sock" 2>/dev/null || echo none)"
  if [ "$target" != phonylsnr.sock ]; then
    fail "$1" "lsnr.sock -> '$target', want the bare name phonylsnr.sock"
  elif [ "$mode" != 666 ]; then
    fail "$1" "phonylsnr.sock mode $mode, want 666"
  elif [ "$ms" -gt 5000 ]; then
    fail "$1" "ready after $ms ms; Fn gives up after 5000 ms"
  else
    pass "$1 [$ms ms]"
    return 0
  fi
  return 1
}

# fn_deadline <seconds from now> — sets DEADLINE (RFC 3339, whole seconds, UTC) and DEADLINE_MS.
fn_deadline() {
  local at=$(($(date +%s) + $1))
  DEADLINE_MS=$((at * 1000))
  DEADLINE="$(date -u -d "@$at" +%Y-%m-%dT%H:%M:%SZ)"
}

# call <id> <deadline seconds> <body file> [curl args...] — a call as the Fn agent makes it.
# Sets CODE (HTTP status, or "curl: ..."), OUT (body file), HDRS (header file), MS (duration).
call() {
  local id=$1 secs=$2 body=$3 t0
  shift 3
  fn_deadline "$secs"
  OUT="$WORK/out-$id"
  HDRS="$WORK/hdrs-$id"
  t0=$(now_ms)
  CODE="$(curl -sS --max-time $((secs + 10)) --unix-socket "$DIR/lsnr.sock" -X POST http://localhost/call \
    -H "Fn-Call-Id: $id" -H "Fn-Deadline: $DEADLINE" -H 'User-Agent: Go-http-client/1.1' \
    -H 'Accept-Encoding: gzip' -H 'Transfer-Encoding: chunked' -H 'Expect:' "$@" \
    --data-binary "@$body" -o "$OUT" -D "$HDRS" -w '%{http_code}' 2>"$WORK/curl.err")" \
    || CODE="curl: $(head -c 200 "$WORK/curl.err")"
  MS=$(($(now_ms) - t0))
}

# expect_call <test name> <status> <expected body file>
expect_call() {
  if [ "$CODE" != "$2" ]; then
    fail "$1" "status $CODE, want $2; body: $(show "$OUT"); log: $(logs_of "$CNAME")"
  elif ! cmp -s "$OUT" "$3"; then
    fail "$1" "body '$(show "$OUT")', want '$(show "$3")'"
  else
    pass "$1 [$MS ms]"
    return 0
  fi
  return 1
}

# Processes of a container, seen from the host: "pid state ppid comm args" per line. Takes every
# process in the container's pid namespace and every process whose parent is one of them (so a
# zombie shows up even where its namespace link is gone).
ps_container() {
  local ipid nsino ino path
  ipid="$(docker inspect -f '{{.State.Pid}}' "$1")" || return 1
  [ -n "$ipid" ] && [ "$ipid" != 0 ] && [ -e "/proc/$ipid" ] || return 1
  nsino="$(stat -L -c %i "/proc/$ipid/ns/pid")" || return 1
  declare -A inns=()
  while read -r ino path; do
    [ "$ino" = "$nsino" ] || continue
    path=${path#/proc/}
    inns[${path%%/*}]=1
  done < <(stat -L -c '%i %n' /proc/[0-9]*/ns/pid 2>/dev/null || true)
  local p stat rest state ppid comm args
  for p in /proc/[0-9]*; do
    p=${p#/proc/}
    { read -r stat <"/proc/$p/stat"; } 2>/dev/null || continue
    rest=${stat##*) }
    state=${rest%% *}
    rest=${rest#* }
    ppid=${rest%% *}
    [ -n "${inns[$p]:-}" ] || [ -n "${inns[$ppid]:-}" ] || continue
    comm=${stat#*(}
    comm=${comm%)*}
    args="$( { tr '\0' ' ' <"/proc/$p/cmdline"; } 2>/dev/null || true)"
    echo "$p $state $ppid $comm ${args:-[$comm]}"
  done
}
init_pid() { docker inspect -f '{{.State.Pid}}' "$1"; }

# Processes that are neither the container's first process nor hotwrap, or that are zombies.
leftovers() { # cname
  local ipid
  ipid="$(init_pid "$1")"
  ps_container "$1" | awk -v init="$ipid" '$2 == "Z" || ($1 != init && $4 != "hotwrap")'
}

printf 'hello world\nabc\n' >"$WORK/rev.in"
printf 'dlrow olleh\ncba\n' >"$WORK/rev.want"
printf 'racecar level\n12345\n' >"$WORK/rev2.in"
printf 'level racecar\n54321\n' >"$WORK/rev2.want"
: >"$WORK/empty"

# --- node ------------------------------------------------------------------------------------
if [ -n "${BUILT[node]:-}" ] && launch node hotwrap-example-node yes; then
  printf '{"name":"Bob"}' >"$WORK/node1.in"
  printf 'Hello Bob from Node!\n' >"$WORK/node1.want"
  call node-1 30 "$WORK/node1.in" -H 'Content-Type: application/json'
  expect_call 'node: {"name":"Bob"} -> Hello Bob from Node!' 200 "$WORK/node1.want" || true
  printf 'Hello World from Node!\n' >"$WORK/node2.want"
  call node-2 30 "$WORK/empty"
  expect_call "node: second call, empty body -> Hello World from Node!" 200 "$WORK/node2.want" || true
fi

# --- node, prespawned: the next node boots while the container idles ---------------------------
RUN_ENV=(-e HOTWRAP_PRESPAWN=1)
if [ -n "${BUILT[node]:-}" ] && launch node-pre hotwrap-example-node yes; then
  waiting=""
  for _ in $(seq 50); do
    waiting="$(ps_container "$CNAME" | awk '$4 == "node"')"
    [ -n "$waiting" ] && break
    sleep 0.1
  done
  if [ -n "$waiting" ]; then
    pass "prespawn: a node process waits before the first call"
  else
    fail "prespawn: a node process waits before the first call" "processes: $(ps_container "$CNAME" | tr '\n' '|')"
  fi
  for i in 1 2 3; do
    call "pre-$i" 30 "$WORK/node1.in" -H 'Content-Type: application/json'
    expect_call "prespawn: call $i on the read-only container -> Hello Bob from Node!" 200 "$WORK/node1.want" || true
  done
  # (a summary line may say "prespawned" too: that one marks a call the waiting process served)
  if docker logs "$CNAME" 2>&1 | grep -qE 'hotwrap: .*prespawned .* (exited before its call|had exited|could not be given)'; then
    fail "prespawn: every call took the waiting process" "log: $(logs_of "$CNAME")"
  else
    pass "prespawn: every call took the waiting process"
  fi
fi
RUN_ENV=()

# --- rev -------------------------------------------------------------------------------------
if [ -n "${BUILT[rev]:-}" ] && launch rev hotwrap-example-rev yes; then
  call rev-1 30 "$WORK/rev.in"
  if expect_call "rev: call 1 reverses the lines" 200 "$WORK/rev.want"; then
    if grep -qi '^Fn-Fdk-Version: hotwrap/' "$HDRS"; then
      pass "rev: response carries Fn-Fdk-Version"
    else
      fail "rev: response carries Fn-Fdk-Version" "headers: $(tr '\r\n' ' |' <"$HDRS" | cut -c1-300)"
    fi
  fi
  call rev-2 30 "$WORK/rev2.in"
  expect_call "rev: call 2 on the same container" 200 "$WORK/rev2.want" || true

  # A body far past hotwrap's 1 MiB buffer streams both ways (in a 128 MiB container).
  awk -v want="$WORK/big.want" 'function rev(t,  r, k) { r = ""; for (k = length(t); k > 0; k--) r = r substr(t, k, 1); return r }
    BEGIN { tail = " of a body that is much larger than the buffer"; liat = rev(tail)
      for (i = 0; i < 200000; i++) { n = sprintf("%07d", i)
        print "line " n tail; print liat rev(n) " enil" >want } }' >"$WORK/big.in"
  call rev-big 30 "$WORK/big.in"
  if expect_call "rev: $(($(stat -c %s "$WORK/big.in") / 1048576)) MiB body in and out" 200 "$WORK/big.want"; then
    grep -qi '^Transfer-Encoding: chunked' "$HDRS" \
      || fail "rev: a response past the buffer is chunked" "headers: $(tr '\r\n' ' |' <"$HDRS" | cut -c1-300)"
  fi

  # Two calls on one kept-alive connection, as the agent reuses its idle connection.
  fn_deadline 30
  d1=$DEADLINE
  res="$(curl -sS --max-time 20 \
      --unix-socket "$DIR/lsnr.sock" -X POST http://localhost/call -H 'Fn-Call-Id: rev-ka-1' \
      -H "Fn-Deadline: $d1" -H 'Transfer-Encoding: chunked' -H 'Expect:' --data-binary "@$WORK/rev.in" \
      -o "$WORK/ka1" -w '%{http_code} %{num_connects}\n' \
    --next --unix-socket "$DIR/lsnr.sock" -X POST http://localhost/call -H 'Fn-Call-Id: rev-ka-2' \
      -H "Fn-Deadline: $d1" -H 'Expect:' --data-binary "@$WORK/rev2.in" \
      -o "$WORK/ka2" -w '%{http_code} %{num_connects}\n' 2>&1)" || true
  if [ "$res" = $'200 1\n200 0' ] && cmp -s "$WORK/ka1" "$WORK/rev.want" && cmp -s "$WORK/ka2" "$WORK/rev2.want"; then
    pass "rev: two calls on one kept-alive connection (chunked, then Content-Length)"
  else
    fail "rev: two calls on one kept-alive connection (chunked, then Content-Length)" \
      "curl: $(printf '%s' "$res" | tr '\n' '|'); bodies '$(show "$WORK/ka1")' '$(show "$WORK/ka2")'"
  fi

  # Fn freezes an idle container and thaws it for the next call.
  for round in 1 2; do
    name="rev: call after docker pause + unpause (round $round)"
    if ! docker pause "$CNAME" >/dev/null 2>"$WORK/pause.err"; then
      fail "$name" "docker pause: $(head -c 200 "$WORK/pause.err")"
      continue
    fi
    st="$(docker inspect -f '{{.State.Status}}' "$CNAME")"
    sleep 0.3
    docker unpause "$CNAME" >/dev/null 2>"$WORK/pause.err" || { fail "$name" "docker unpause: $(head -c 200 "$WORK/pause.err")"; continue; }
    if [ "$st" != paused ]; then
      fail "$name" "state after docker pause: $st"
      continue
    fi
    call "rev-pause-$round" 30 "$WORK/rev.in"
    expect_call "$name" 200 "$WORK/rev.want" || true
  done
fi

# --- convert: binary bodies ------------------------------------------------------------------
# "<width>x<height>" of a PNG file, or "not a PNG".
png_size() {
  local sig
  sig="$(od -An -tx1 -N8 "$1" 2>/dev/null | tr -d ' \n')"
  [ "$sig" = 89504e470d0a1a0a ] || { echo "not a PNG"; return; }
  local h
  h="$(od -An -tx1 -j16 -N8 "$1" | tr -d ' \n')"
  echo "$((16#${h:0:8}))x$((16#${h:8:8}))"
}
if [ -n "${BUILT[convert]:-}" ] && launch convert hotwrap-example-convert yes; then
  in_size="$(png_size "$ROOT/examples/convert/sample.png")"
  call convert-1 30 "$ROOT/examples/convert/sample.png" -H 'Content-Type: image/png'
  size="$(png_size "$OUT")"
  ctype="$(grep -i '^Content-Type:' "$HDRS" | tr -d '\r' | cut -d' ' -f2-)"
  if [ "$CODE" != 200 ]; then
    fail "convert: $in_size PNG -> 60x40 PNG" "status $CODE; body: $(show "$OUT"); log: $(logs_of "$CNAME")"
  elif [ "$size" != 60x40 ]; then
    fail "convert: $in_size PNG -> 60x40 PNG" "got $size ($(file -b "$OUT" | cut -c1-100))"
  elif [ "$ctype" != image/png ]; then
    fail "convert: $in_size PNG -> 60x40 PNG" "Content-Type '$ctype', want image/png"
  else
    pass "convert: $in_size PNG -> 60x40 PNG, Content-Type image/png [$MS ms]"
    cp "$OUT" "$WORK/half.png"
    call convert-2 30 "$WORK/half.png" -H 'Content-Type: image/png'
    size="$(png_size "$OUT")"
    if [ "$CODE" = 200 ] && [ "$size" = 30x20 ]; then
      pass "convert: second call, 60x40 -> 30x20 [$MS ms]"
    else
      fail "convert: second call, 60x40 -> 30x20" "status $CODE, got $size; log: $(logs_of "$CNAME")"
    fi
  fi
fi

# --- shell-form CMD --------------------------------------------------------------------------
if [ -n "${BUILT[shell-form]:-}" ] && launch shell-form hotwrap-example-shell-form yes; then
  printf 'hello\n' >"$WORK/sf1.in"
  printf "two words|it's\nHELLO\n" >"$WORK/sf1.want"
  call sf-1 30 "$WORK/sf1.in"
  expect_call "shell-form: quoting survives (two words|it's, then tr)" 200 "$WORK/sf1.want" || true
  printf 'Mixed Case, twice\n' >"$WORK/sf2.in"
  printf "two words|it's\nMIXED CASE, TWICE\n" >"$WORK/sf2.want"
  call sf-2 30 "$WORK/sf2.in"
  expect_call "shell-form: second call" 200 "$WORK/sf2.want" || true
  stop_check "shell-form: docker stop (with --init) ends it with exit 0, socket files removed"
fi

# --- cgi: a cgi-bin script answering with its own status (HOTWRAP_CGI=1 in its image) ---------
if [ -n "${BUILT[cgi]:-}" ] && launch cgi hotwrap-example-cgi yes; then
  : >"$WORK/cgi.in"
  printf 'nothing at /t/hotdemo/cgi/missing\n' >"$WORK/cgi1.want"
  call cgi-1 30 "$WORK/cgi.in" -H 'Fn-Intent: httprequest' -H 'Fn-Http-Method: GET' \
    -H 'Fn-Http-Request-Url: http://localhost:8080/t/hotdemo/cgi/missing'
  if expect_call "cgi: a trigger call answers the script's body" 200 "$WORK/cgi1.want"; then
    if grep -qi '^Fn-Http-Status: 404' "$HDRS"; then
      pass "cgi: the script's Status: 404 is the trigger's Fn-Http-Status"
    else
      fail "cgi: the script's Status: 404 is the trigger's Fn-Http-Status" "headers: $(tr '\r\n' ' |' <"$HDRS" | cut -c1-300)"
    fi
  fi
  call cgi-2 30 "$WORK/cgi.in" -H 'Fn-Intent: httprequest' -H 'Fn-Http-Method: GET' \
    -H 'Fn-Http-Request-Url: http://localhost:8080/t/hotdemo/cgi/old'
  if [ "$CODE" = 200 ] && grep -qi '^Fn-Http-Status: 302' "$HDRS" &&
    grep -qi '^Fn-Http-H-Location: https://example.com/new' "$HDRS"; then
    pass "cgi: a Location is a 302 redirect"
  else
    fail "cgi: a Location is a 302 redirect" "status $CODE, headers: $(tr '\r\n' ' |' <"$HDRS" | cut -c1-300)"
  fi
  stop_check "cgi: docker stop (with --init) ends it with exit 0, socket files removed"
fi

# --- hotwrap as PID 1 (no --init): orphans, zombies, docker stop ----------------------------
# The command leaves `sleep 30` in its process group holding stdout, and a `setsid sleep 3` that
# escapes the group and is orphaned to PID 1 when sh exits.
PID1_CMD=(sh -c 'sleep 30 & setsid sleep 3 >/dev/null 2>&1 & sleep 1; echo hi')
has_sleep30() { awk '$4 == "sleep" && $6 == "30"' "$1" | grep -q .; }
if [ -n "${BUILT[rev]:-}" ] && launch pid1 hotwrap-example-rev no "${PID1_CMD[@]}"; then
  printf 'hi\n' >"$WORK/hi.want"
  ok=1
  # Watch the first call from outside: its `sleep 30` must be there while it runs.
  (
    for _ in $(seq 40); do
      ps_container "$CNAME" >"$WORK/ps-during" 2>/dev/null || true
      if has_sleep30 "$WORK/ps-during"; then touch "$WORK/saw-sleep30"; break; fi
      sleep 0.02
    done
  ) &
  watcher=$!
  for n in 1 2; do
    call "pid1-$n" 30 "$WORK/empty"
    [ "$n" = 1 ] && { wait "$watcher" || true; }
    if [ "$CODE" = 200 ] && cmp -s "$OUT" "$WORK/hi.want" && [ "$MS" -lt 3000 ]; then
      pass "pid 1: call $n answers although a grandchild holds stdout [$MS ms]"
    else
      fail "pid 1: call $n answers although a grandchild holds stdout" "status $CODE after $MS ms, body '$(show "$OUT")'; log: $(logs_of "$CNAME")"
      ok=0
    fi
  done
  if [ "$ok" = 1 ]; then
    hw="$(init_pid "$CNAME")"
    # The calls' process groups go when the commands exit: no `sleep 30` may stay.
    for _ in $(seq 20); do
      ps_container "$CNAME" >"$WORK/ps" || true
      has_sleep30 "$WORK/ps" || break
      sleep 0.1
    done
    if ! [ -e "$WORK/saw-sleep30" ]; then
      fail "pid 1: the call's process group is killed when the command exits" "the call's 'sleep 30' was never seen while the call ran (scenario not reproduced)"
    elif has_sleep30 "$WORK/ps"; then
      fail "pid 1: the call's process group is killed when the command exits" "left: $(tr '\n' '|' <"$WORK/ps")"
    else
      pass "pid 1: the call's process group is killed when the command exits"
    fi
    # The escaped sleeps are hotwrap's children now; once they exit hotwrap must reap them.
    orphans="$(awk -v hw="$hw" '$3 == hw && $5 == "sleep" && $6 == "3"' "$WORK/ps" | wc -l)"
    if [ "$orphans" -lt 1 ]; then
      fail "pid 1: orphans are reaped, no zombie left" "no orphaned 'sleep 3' seen under PID 1 (scenario not reproduced): $(tr '\n' '|' <"$WORK/ps")"
    else
      for _ in $(seq 70); do
        leftovers "$CNAME" >"$WORK/left" || true
        [ -s "$WORK/left" ] || break
        sleep 0.1
      done
      if [ -s "$WORK/left" ]; then
        fail "pid 1: orphans are reaped, no zombie left" "$orphans orphans seen; 7 s later still: $(tr '\n' '|' <"$WORK/left")"
      else
        pass "pid 1: orphans are reaped, no zombie left ($orphans orphans seen under PID 1)"
      fi
    fi
  fi
  stop_check "pid 1: docker stop -t 10 ends it with exit 0, socket files removed"
fi

# --- deadlines -------------------------------------------------------------------------------
# Each call reads a number and sleeps that long in a child of sh, so killing only sh would not be
# enough.
# shellcheck disable=SC2016  # expanded by the container's sh
DL_CMD=(sh -c 'read s; sleep "$s" && echo "slept $s"')
if [ -n "${BUILT[rev]:-}" ] && launch deadline hotwrap-example-rev yes "${DL_CMD[@]}"; then
  printf '60\n' >"$WORK/sleep60"
  # A deadline 2-3 s away, whole seconds as Fn sends it.
  sleep "$(printf '0.%03d' $(((1000 - 10#$(date +%3N)) % 1000)))"
  call dl-1 2 "$WORK/sleep60"
  reply_ms=$(now_ms)
  if [ "$CODE" != 504 ]; then
    fail "deadline: 504 before Fn-Deadline" "status $CODE after $MS ms; log: $(logs_of "$CNAME")"
  elif [ "$reply_ms" -ge "$DEADLINE_MS" ]; then
    fail "deadline: 504 before Fn-Deadline" "504 arrived $((reply_ms - DEADLINE_MS)) ms after the deadline"
  elif [ $((DEADLINE_MS - reply_ms)) -gt 1500 ]; then
    fail "deadline: 504 before Fn-Deadline" "504 arrived $((DEADLINE_MS - reply_ms)) ms before the deadline: too early"
  else
    pass "deadline: 504 before Fn-Deadline ($((DEADLINE_MS - reply_ms)) ms before it, after $MS ms)"
  fi
  for _ in $(seq 10); do
    leftovers "$CNAME" >"$WORK/left" || true
    [ -s "$WORK/left" ] || break
    sleep 0.1
  done
  if [ -s "$WORK/left" ]; then
    fail "deadline: no process of the timed-out call is left" "$(tr '\n' '|' <"$WORK/left")"
  else
    pass "deadline: no process of the timed-out call is left"
  fi
  printf '0\n' >"$WORK/sleep0"
  printf 'slept 0\n' >"$WORK/slept0.want"
  call dl-2 30 "$WORK/sleep0"
  expect_call "deadline: the container serves the next call" 200 "$WORK/slept0.want" || true
  printf 'x\n' >"$WORK/sleepx"
  call dl-3 30 "$WORK/sleepx"
  if [ "$CODE" = 502 ]; then
    pass "deadline: a failing command answers 502 [$MS ms]"
  else
    fail "deadline: a failing command answers 502" "status $CODE, body '$(show "$OUT")'"
  fi
fi

# ---- the http contract: an OpenFaaS template image, run as Cloud Run and OpenFaaS run it ------------
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# http_launch <name> [docker run options...]: runs the openfaas example with PORT=8080 published on
# a free host port (HPORT), a read-only root and no capabilities; waits for /_/health.
http_launch() {
  local name=$1 t0
  shift
  CNAME="$PREFIX-$name"
  HPORT=$(free_port)
  CONTAINERS+=("$CNAME")
  t0=$(now_ms)
  if ! docker run -d --name "$CNAME" --read-only --cap-drop all --security-opt no-new-privileges \
      --ulimit "nofile=$NOFILE:$NOFILE" --ulimit "nproc=$NPROC:$NPROC" -p "$HPORT:8080" -e PORT=8080 \
      "$@" hotwrap-example-openfaas >/dev/null 2>"$WORK/run-$name.err"; then
    fail "$name: container starts" "docker run: $(tr '\n' '|' <"$WORK/run-$name.err" | cut -c1-300)"
    return 1
  fi
  for _ in $(seq 100); do
    [ "$(curl -s --max-time 2 "localhost:$HPORT/_/health" 2>/dev/null)" = OK ] && break
    sleep 0.1
  done
  if [ "$(curl -s --max-time 2 "localhost:$HPORT/_/health" 2>/dev/null)" != OK ]; then
    fail "$name: /_/health answers OK" "not after 10 s; log: $(logs_of "$CNAME")"
    return 1
  fi
  pass "$name: /_/health answers OK [$(($(now_ms) - t0)) ms]"
}

if [ -n "${BUILT[openfaas]:-}" ]; then
  # Cloud Run's settings: PORT=8080, the image's non-root user, a read-only root. (podman puts a
  # tmpfs on /tmp of a read-only container; TMPDIR on the read-only root stands for an engine
  # that does not.)
  if http_launch http-cloudrun -e TMPDIR=/home/app; then
    user="$(docker inspect -f '{{.Config.User}}' "$CNAME" 2>&1)"
    out="$(curl -s --max-time 10 -d hello "localhost:$HPORT/greet?name=ada")"
    if [[ "$out" == "POST /greet?name=ada (call "*")"$'\n'"HELLO" ]] && [ "$user" = app ]; then
      pass "http: fprocess of the template image answers as user $user, CMD [\"fwatchdog\"] kept"
    else
      fail "http: fprocess of the template image answers" "user '$user', body '$(printf '%s' "$out" | head -c 200)'; log: $(logs_of "$CNAME")"
    fi
    code="$(curl -s -o "$WORK/fail.out" -w '%{http_code}' --max-time 10 "localhost:$HPORT/fail?x=1")"
    if [ "$code" = 500 ] && grep -q "no such thing: x=1" "$WORK/fail.out"; then
      pass "http: exit 3 answers 500 with the end of stderr"
    else
      fail "http: exit 3 answers 500 with the end of stderr" "status $code, body '$(show "$WORK/fail.out")'"
    fi
    # The engine's log can lag behind what the container wrote: asked again for up to 5 s.
    lock_line=no
    for _ in $(seq 50); do
      if docker logs "$CNAME" 2>&1 | grep -q "cannot write the lock file /home/app/.lock (Read-only file system)"; then
        lock_line=yes
        break
      fi
      sleep 0.1
    done
    if [ "$lock_line" = yes ]; then
      pass "http: a read-only TMPDIR costs the lock file only (one log line)"
    else
      fail "http: a read-only TMPDIR costs the lock file only" "log: $(docker logs "$CNAME" 2>&1 | head -n 6 | tr '\n' '|')"
    fi
    t0=$(now_ms)
    docker stop -t 10 "$CNAME" >/dev/null 2>&1 || true
    ms=$(($(now_ms) - t0))
    code="$(docker inspect -f '{{.State.ExitCode}}' "$CNAME" 2>&1)"
    if [ "$code" = 0 ] && [ "$ms" -lt 10000 ]; then
      pass "http: docker stop exits 0 within Cloud Run's 10 s [$ms ms]"
    else
      fail "http: docker stop exits 0 within Cloud Run's 10 s" "exit $code after $ms ms; log: $(logs_of "$CNAME")"
    fi
  fi
  # OpenFaaS with readOnlyRootFilesystem: faas-netes mounts an emptyDir on /tmp.
  # The default drain (3 s) keeps it serving while the checks below run.
  if http_launch http-openfaas --tmpfs /tmp; then
    if docker exec "$CNAME" test -e /tmp/.lock; then
      pass "http: the lock file /tmp/.lock is there while serving"
    else
      fail "http: the lock file /tmp/.lock is there while serving" "log: $(logs_of "$CNAME")"
    fi
    docker kill -s TERM "$CNAME" >/dev/null 2>&1 || true
    health= gone=no
    for _ in $(seq 20); do
      health="$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "localhost:$HPORT/_/health")"
      [ "$health" = 503 ] && break
      sleep 0.1
    done
    # Still running (draining): the file is gone, not the container.
    if docker exec "$CNAME" test -d /tmp && ! docker exec "$CNAME" test -e /tmp/.lock; then
      gone=yes
    fi
    if [ "$health" = 503 ] && [ "$gone" = yes ]; then
      pass "http: SIGTERM turns /_/health 503 and removes the lock file"
    else
      fail "http: SIGTERM turns /_/health 503 and removes the lock file" "health $health, lock gone: $gone; log: $(logs_of "$CNAME")"
    fi
  fi
fi


# ---- the READMEs' shell blocks, as pasted ---------------------------------------------------------
if "$ROOT/tests/readme/run.sh" >"$WORK/readme.log" 2>&1; then
  pass "README blocks: $(tail -n 1 "$WORK/readme.log"); $(grep -c '^NOT RUN' "$WORK/readme.log") not run (they need an Fn server, or are the suite's own set-up)"
else
  fail "README blocks" "$(grep '^FAIL' "$WORK/readme.log" | head -n 3 | tr '\n' '|' | cut -c1-600)"
fi

finish
