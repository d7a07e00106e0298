#!/usr/bin/env bash
# Sets up a container engine that speaks the Docker API, on a Debian machine with no Docker
# engine and no image registry: rootful podman (runtime runc) serving the Docker API on a unix
# socket, plus a locally made docker.io/library/debian:bookworm-slim base image.
#
# Idempotent: every step checks first and does nothing when it is already done.
#   scripts/container-engine.sh          ensure everything, print how to use it, exit 0
#   scripts/container-engine.sh --check  only report whether the engine is usable (exit 0/1)
# On failure it prints one line starting with "container-engine: " on stderr and exits 1.
#
# Environment:
#   HOTWRAP_PODMAN_SOCK  socket path (default /tmp/podman.sock)
#   HOTWRAP_BASE_IMAGE   base image name (default docker.io/library/debian:bookworm-slim)
#   HOTWRAP_ENGINE_LOG   log of the podman service and of slow steps (default /tmp/podman-service.log)
# The service's pid is kept in <socket>.pid so that a later run can restart exactly that process.
set -euo pipefail

SOCK="${HOTWRAP_PODMAN_SOCK:-/tmp/podman.sock}"
BASE_IMAGE="${HOTWRAP_BASE_IMAGE:-docker.io/library/debian:bookworm-slim}"
LOG="${HOTWRAP_ENGINE_LOG:-/tmp/podman-service.log}"
PIDFILE="$SOCK.pid"
CONF=/etc/containers/containers.conf
export DOCKER_HOST="unix://$SOCK"

die() { echo "container-engine: $*" >&2; exit 1; }
say() { echo "container-engine: $*" >&2; }

# The service answers the Docker API's /_ping with "OK".
engine_up() {
  [ -S "$SOCK" ] || return 1
  [ "$(curl -s --max-time 3 --unix-socket "$SOCK" http://d/_ping 2>/dev/null)" = OK ]
}

if [ "${1:-}" = "--check" ]; then
  if engine_up && command -v docker >/dev/null && docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
    exit 0
  fi
  die "no usable engine at $DOCKER_HOST"
fi

# A running service is enough when the base image is already there and nothing is to install.
if ! { engine_up && command -v docker >/dev/null && docker image inspect "$BASE_IMAGE" >/dev/null 2>&1 \
       && [ -f "$CONF" ] && grep -q '^runtime = "runc"' "$CONF"; }; then

  [ "$(id -u)" = 0 ] || die "must run as root (rootful podman, apt-get, /etc/containers) — uid is $(id -u)"
  command -v apt-get >/dev/null || die "apt-get not found: this script sets up podman on Debian only"
  command -v docker >/dev/null || die "the docker CLI is not installed (it is the client; podman only serves the API)"

  # 1. Packages.
  missing=()
  for pkg in podman runc mmdebstrap curl; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]}"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"; } \
      >>"$LOG" 2>&1 || die "apt-get install ${missing[*]} failed (see $LOG)"
  fi

  # 2. Engine configuration. The sandbox lacks CAP_SYS_RESOURCE: a container may not raise an
  # rlimit above the current hard limit, and podman's defaults try to. crun fails on the cgroup
  # set-up here ("hybrid mode"); runc works.
  hard_limit() { local v; v="$(ulimit -H "$1")"; [ "$v" = unlimited ] && v="$2"; [ "$v" -lt "$2" ] && echo "$v" || echo "$2"; }
  nofile="$(hard_limit -n 1024)"
  nproc="$(hard_limit -u 1000)"
  want="$(printf '%s\n' \
    '# Written by hotwrap scripts/container-engine.sh' \
    '[containers]' \
    "default_ulimits = [\"nofile=$nofile:$nofile\", \"nproc=$nproc:$nproc\"]" \
    '[engine]' \
    'runtime = "runc"')"
  if [ "$(cat "$CONF" 2>/dev/null)" != "$want" ]; then
    mkdir -p /etc/containers
    [ -f "$CONF" ] && ! grep -q 'hotwrap scripts/container-engine.sh' "$CONF" && cp "$CONF" "$CONF.orig"
    printf '%s\n' "$want" >"$CONF"
    say "wrote $CONF (nofile=$nofile nproc=$nproc, runtime runc)"
    # A service started before the change still runs with the old configuration.
    if engine_up; then
      pid="$(cat "$PIDFILE" 2>/dev/null || true)"
      if [ -n "$pid" ] && grep -qa 'system.service' "/proc/$pid/cmdline" 2>/dev/null; then
        kill "$pid"
        for _ in $(seq 50); do engine_up || break; sleep 0.1; done
      else
        say "warning: a service not started by this script serves $SOCK; it keeps its old configuration"
      fi
    fi
  fi

  # 3. The Docker API service. Only podman can serve it: this is the one place podman itself
  # is started rather than driven through the docker CLI.
  if ! engine_up; then
    rm -f "$SOCK"
    nohup setsid podman system service --time=0 "unix://$SOCK" >>"$LOG" 2>&1 </dev/null &
    echo $! >"$PIDFILE"
    for _ in $(seq 100); do engine_up && break; sleep 0.1; done
    engine_up || die "podman system service did not come up on $SOCK within 10 s (see $LOG)"
    say "podman is serving the Docker API on $SOCK"
  fi

  # 4. Base image. No registry is reachable, so debian:bookworm-slim is made from Debian's apt
  # repositories (mmdebstrap) and imported through the Docker API.
  if ! docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
    say "making $BASE_IMAGE with mmdebstrap (about 30 s)"
    tmp="$(mktemp -d)"
    trap 'rm -rf "$tmp"' EXIT
    mmdebstrap --quiet --variant=minbase bookworm "$tmp/rootfs.tar" >>"$LOG" 2>&1 \
      || die "mmdebstrap --variant=minbase bookworm failed (see $LOG)"
    docker import --change 'CMD ["bash"]' "$tmp/rootfs.tar" "$BASE_IMAGE" >>"$LOG" 2>&1 \
      || die "docker import of the bookworm rootfs failed (see $LOG)"
    docker image inspect "$BASE_IMAGE" >/dev/null 2>&1 || die "$BASE_IMAGE not visible through $DOCKER_HOST after import"
  fi
fi

engine_up || die "engine not reachable at $DOCKER_HOST"
cat <<EOF
Container engine ready (podman $(podman --version | awk '{print $3}'), Docker API on $SOCK).
Use it with the docker CLI:
  export DOCKER_HOST=unix://$SOCK
  docker build --network host -t hotwrap .
EOF
