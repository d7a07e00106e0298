#!/usr/bin/env bash
# Builds hotwrap, wraps `rev` as an Fn http-stream function and answers one real call over the
# unix socket, the way the Fn agent calls it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh build
# A build directory of its own: the test suite's build/ keeps its tests.
cmake -S . -B build-demo -DCMAKE_BUILD_TYPE=Release -DHOTWRAP_TESTS=OFF >/dev/null
cmake --build build-demo -j"$(nproc)" --target hotwrap >/dev/null
echo "built build-demo/hotwrap ($(stat -c %s build-demo/hotwrap) bytes, $(file -b build-demo/hotwrap | cut -d, -f1-5))"

iofs=$(mktemp -d /tmp/hotwrap-demo.XXXXXX)
chmod 0777 "$iofs"
FN_FORMAT=http-stream FN_LISTENER="unix:$iofs/lsnr.sock" build-demo/hotwrap rev &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -rf "$iofs"' EXIT
for _ in $(seq 100); do [[ -L $iofs/lsnr.sock ]] && break; sleep 0.05; done
[[ -L $iofs/lsnr.sock ]] || { echo "hotwrap did not create its socket" >&2; exit 1; }
echo "listening: $iofs/lsnr.sock -> $(readlink "$iofs/lsnr.sock")"
echo "calling:   POST /call with body 'Hello, hot functions!'"
deadline=$(date -u -d '+30 seconds' +%Y-%m-%dT%H:%M:%SZ)
printf 'Hello, hot functions!\n' |
  curl -sS -i --unix-socket "$iofs/lsnr.sock" -H 'Fn-Call-Id: 01DEMO' -H "Fn-Deadline: $deadline" \
    -H 'Transfer-Encoding: chunked' --data-binary @- http://localhost/call
kill -TERM $pid
wait $pid && echo "hotwrap stopped cleanly; socket files left: $(ls -A "$iofs" | wc -l)"
