#!/usr/bin/env bash
# Builds the libFuzzer targets (clang-19, ASan+UBSan) and runs each one for SECONDS.
#   tests/fuzz/run.sh [SECONDS]      default 60
# First every input under tests/fuzz/regressions/<target>/ is replayed (each once was a crash);
# then each target fuzzes from its seeds (tests/fuzz/corpus/<target>/) and the corpus it grew in
# earlier runs (build-fuzz/corpus/<target>/). Any crash, assertion, leak, timeout (-timeout=10) or
# memory blow-up (-rss_limit_mb=2048) fails the run, and the input that caused it is copied to
# tests/fuzz/regressions/<target>/ so the next run replays it first.
# Installs nothing: scripts/deps.sh test provides clang-19 and libclang-rt-19-dev.
# Environment: HOTWRAP_FUZZ_BUILD (build dir, default build-fuzz), HOTWRAP_FUZZ_JOBS (targets run
# at once, default min(nproc, 2)).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
root=$PWD
seconds=${1:-60}
if ! [[ $seconds =~ ^[0-9]+$ ]] || ((seconds < 1)); then
  echo "usage: tests/fuzz/run.sh [SECONDS]" >&2
  exit 2
fi
build=${HOTWRAP_FUZZ_BUILD:-$root/build-fuzz}
ncpu=$(nproc)
parallel=${HOTWRAP_FUZZ_JOBS:-$((ncpu < 2 ? ncpu : 2))}
targets=(fuzz_http_request fuzz_http_response fuzz_json_frames fuzz_rfc3339 fuzz_env_names fuzz_exchange
  fuzz_cgi_head fuzz_lambda_event)

for tool in clang-19 clang++-19; do
  if ! command -v "$tool" >/dev/null; then
    echo "tests/fuzz/run.sh: $tool not found; run scripts/deps.sh test" >&2
    exit 1
  fi
done

echo "--- building the fuzz targets in $build"
if ! CC=clang-19 CXX=clang++-19 cmake -S "$root" -B "$build" -DHOTWRAP_FUZZ=ON -DHOTWRAP_SANITIZE=ON \
  -DHOTWRAP_STATIC=OFF -DHOTWRAP_TESTS=OFF -DHOTWRAP_WERROR=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null; then
  echo "tests/fuzz/run.sh: configure failed" >&2
  exit 1
fi
if ! cmake --build "$build" -j"$ncpu" --target fuzz_targets; then
  echo "tests/fuzz/run.sh: build failed" >&2
  exit 1
fi
bin_dir=$build/tests/fuzz
missing=()
for t in "${targets[@]}"; do [[ -x $bin_dir/$t ]] || missing+=("$t"); done
if ((${#missing[@]})); then
  # fuzz_json_frames is built only once protocols/json.hpp exists (tests/fuzz/CMakeLists.txt).
  echo "tests/fuzz/run.sh: targets not built: ${missing[*]}" >&2
  exit 1
fi

# Leaks are failures too; UBSan reports abort like ASan's.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:symbolize=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
work=$(mktemp -d /tmp/hotwrap-fuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT
failed=()

echo "--- replaying tests/fuzz/regressions"
broken=()
for t in "${targets[@]}"; do
  dir=tests/fuzz/regressions/$t
  shopt -s nullglob
  inputs=("$dir"/*)
  shopt -u nullglob
  ((${#inputs[@]})) || continue
  if timeout 300 "$bin_dir/$t" -timeout=10 -rss_limit_mb=2048 "${inputs[@]}" >"$work/$t.replay.log" 2>&1; then
    echo "$t: ${#inputs[@]} regression inputs pass"
  else
    echo "$t: a regression input FAILS:"
    grep -E "^Running:|ERROR:|Assertion|SUMMARY:|runtime error|^fed |^  [A-Z]+ " "$work/$t.replay.log" | head -30
    broken+=("$t")
    failed+=("$t (regression)")
  fi
done

# One target: fuzz for $seconds; copies what it finds into regressions/.
fuzz_one() {
  local t=$1 log=$work/$1.log artifacts=$work/$1.artifacts corpus=$build/corpus/$1
  mkdir -p "$artifacts" "$corpus"
  # timeout: libFuzzer stops by itself after max_total_time; this bounds a hang in the runner.
  timeout $((seconds + 300)) "$bin_dir/$t" -max_total_time="$seconds" -timeout=10 \
    -rss_limit_mb=2048 -detect_leaks=1 -print_final_stats=1 -artifact_prefix="$artifacts/" \
    "$corpus" "tests/fuzz/corpus/$t" >"$log" 2>&1
  local rc=$?
  local execs
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  shopt -s nullglob
  local found=("$artifacts"/*)
  shopt -u nullglob
  if ((rc == 0 && ${#found[@]} == 0)); then
    echo "$t: ok, ${execs:-?} executions in ${seconds} s, corpus $(find "$corpus" -type f | wc -l) inputs"
    return 0
  fi
  echo "$t: FAILED (exit $rc), ${execs:-?} executions"
  grep -E "ERROR:|Assertion|SUMMARY:|runtime error|fed |^  [A-Z]+ " "$log" | head -30
  mkdir -p "tests/fuzz/regressions/$t"
  for a in "${found[@]}"; do
    cp "$a" "tests/fuzz/regressions/$t/"
    echo "$t: input saved as tests/fuzz/regressions/$t/$(basename "$a")"
  done
  return 1
}

echo "--- fuzzing each target for $seconds s ($parallel at a time)"
# Each run writes its report to $work/<target>.result, the last line "ok" or "failed".
for t in "${targets[@]}"; do
  if [[ " ${broken[*]} " == *" $t "* ]]; then
    echo "$t: not fuzzed (its regression inputs fail; fix those first)"
    continue
  fi
  while (($(jobs -rp | wc -l) >= parallel)); do wait -n; done
  (if fuzz_one "$t"; then echo ok; else echo failed; fi) >"$work/$t.result" &
done
wait
for t in "${targets[@]}"; do
  [[ -f $work/$t.result ]] || continue
  head -n -1 "$work/$t.result"
  [[ $(tail -1 "$work/$t.result") == ok ]] || failed+=("$t")
done

if ((${#failed[@]})); then
  echo "fuzz: FAILED: ${failed[*]}"
  exit 1
fi
echo "fuzz: all targets clean"
