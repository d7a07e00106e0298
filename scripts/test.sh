#!/usr/bin/env bash
# Builds hotwrap and runs the whole test suite: format and lint checks, the release (static,
# warnings as errors) build with its unit and end-to-end tests, the same tests under ASan+UBSan,
# the fuzzers for a bounded time, a short soak, the tests in real containers, the arm64 build under
# qemu, and the release files built twice to the same bytes.
#   scripts/test.sh                 everything
#   scripts/test.sh release asan    only the named stages
# The last line is the summary: "N passed, M failed" (stages).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
root=$PWD
jobs=$(nproc)
all_stages=(format release asan tidy fuzz soak container arm64 repro)
stages=("$@")
((${#stages[@]})) || stages=("${all_stages[@]}")

scripts/deps.sh test || exit 1

passed=0 failed=0 failures=()
stage() {  # stage NAME command...
  local name=$1 start=$SECONDS
  shift
  echo "=== $name"
  if "$@"; then
    passed=$((passed + 1))
    echo "=== $name: PASS ($((SECONDS - start)) s)"
  else
    failed=$((failed + 1))
    failures+=("$name")
    echo "=== $name: FAIL ($((SECONDS - start)) s)"
  fi
}

sources() { git ls-files '*.cpp' '*.hpp' '*.c' '*.h' | grep -v '^examples/'; }

run_format() {
  sources | xargs clang-format-19 --dry-run --Werror
}

run_release() {
  # HOTWRAP_TESTS=ON explicitly: a cache that says otherwise must not make this stage run nothing,
  # and a stage that runs no test fails.
  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DHOTWRAP_WERROR=ON -DHOTWRAP_TESTS=ON >/dev/null &&
    cmake --build build -j"$jobs" &&
    ctest --test-dir build --output-on-failure --no-tests=error
}

run_asan() {
  # Everything, hotwrap included, built with ASan+UBSan; any report aborts the test that saw it.
  cmake -S . -B build-asan -DCMAKE_C_COMPILER=clang-19 -DCMAKE_CXX_COMPILER=clang++-19 \
    -DCMAKE_BUILD_TYPE=Debug \
    -DHOTWRAP_SANITIZE=ON -DHOTWRAP_STATIC=OFF -DHOTWRAP_WERROR=ON -DHOTWRAP_TESTS=ON >/dev/null &&
    cmake --build build-asan -j"$jobs" &&
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
      ctest --test-dir build-asan --output-on-failure --no-tests=error
}

# clang-tidy-19 on FILES... with the compile commands in DIR; .clang-tidy makes findings errors.
tidy() {  # tidy DIR FILES...
  local db=$1
  shift
  printf '%s\n' "$@" | xargs -P "$jobs" -n 4 clang-tidy-19 -p "$db" --quiet 2>&1 |
    grep -v "warnings generated" ; return "${PIPESTATUS[1]}"
}

run_tidy() {
  [[ -f build/compile_commands.json ]] || run_release || return 1
  # The fuzz targets are compiled only in the fuzz build (clang, libFuzzer): they are linted with
  # its compile commands, configured as tests/fuzz/run.sh configures it.
  local fuzz_build=${HOTWRAP_FUZZ_BUILD:-$root/build-fuzz}
  CC=clang-19 CXX=clang++-19 cmake -S . -B "$fuzz_build" -DHOTWRAP_FUZZ=ON -DHOTWRAP_SANITIZE=ON \
    -DHOTWRAP_STATIC=OFF -DHOTWRAP_TESTS=OFF -DHOTWRAP_WERROR=ON -DCMAKE_BUILD_TYPE=Debug \
    >/dev/null || return 1
  local rc=0 files
  mapfile -t files < <(git ls-files '*.cpp' | grep -v -e '^examples/' -e '^tests/fuzz/')
  tidy build "${files[@]}" || rc=1
  mapfile -t files < <(git ls-files 'tests/fuzz/*.cpp')
  tidy "$fuzz_build" "${files[@]}" || rc=1
  return "$rc"
}

run_fuzz() {
  if [[ ! -x tests/fuzz/run.sh ]]; then echo "no fuzz targets"; return 1; fi
  tests/fuzz/run.sh "${HOTWRAP_FUZZ_SECONDS:-60}"
}

run_soak() {
  if [[ ! -x bench/soak.sh ]]; then echo "no soak script"; return 1; fi
  [[ -x build/hotwrap ]] || run_release || return 1
  bench/soak.sh --calls "${HOTWRAP_SOAK_CALLS:-5000}" build/hotwrap
}

run_container() {
  tests/container/run.sh
}

run_arm64() { tests/arm64/run.sh; }  # cross-built, static, e2e under qemu-user
run_repro() { tests/repro/run.sh; }  # scripts/release.sh twice: the same bytes

for s in "${stages[@]}"; do
  case $s in
    format | release | asan | tidy | fuzz | soak | container | arm64 | repro) stage "$s" "run_$s" ;;
    *) echo "unknown stage '$s' (stages: ${all_stages[*]})" >&2; exit 2 ;;
  esac
done
((failed)) && echo "failed stages: ${failures[*]}"
echo "$passed passed, $failed failed"
((failed == 0))
