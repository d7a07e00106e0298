#!/usr/bin/env bash
# A smoke test with a third-party implementation of the Runtime API: npm's @vercel/fun 1.3.6 runs
# hotwrap as a `provided` runtime's bootstrap and invokes it — a success twice (the process is
# kept between invocations, frozen with SIGSTOP), then a failure, whose error object must name
# the exit status and carry the command's stderr. fun's deadline header is the constant 5000 and
# it enforces no timeout: this checks the round trip only (tests/lambda/test_lambda.py is the
# contract test).
#   tests/lambda/vercel_fun.sh BUILD/hotwrap
# Exit 77 (skipped, for ctest) when npm's registry cannot be reached; with CI=true that fails.
set -uo pipefail
hotwrap=$(realpath "$1")
work=$(mktemp -d /tmp/hotwrap-fun.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1

skip() {
  if [[ ${CI:-} == true ]]; then
    echo "FAIL: $1, and CI=true: every test must run"
    exit 1
  fi
  echo "SKIPPED: $1"
  exit 77
}
command -v node >/dev/null && command -v npm >/dev/null || skip "node or npm is not installed"
if ! timeout 300 npm install --no-audit --no-fund --no-save @vercel/fun@1.3.6 >npm.log 2>&1; then
  tail -5 npm.log
  skip "cannot install @vercel/fun@1.3.6 from npm's registry"
fi

mkdir task
cat >task/bootstrap <<SCRIPT
#!/bin/sh
exec "$hotwrap" /bin/sh -c 'read -r x; case \$x in *fail*) echo "boom: \$x" >&2; exit 3;; esac; printf %s "\$x" | tr a-z A-Z'
SCRIPT
chmod +x task/bootstrap

cat >smoke.js <<'JS'
const assert = require('node:assert');
const { createFunction } = require('@vercel/fun');
(async () => {
  const fn = await createFunction({
    Code: { Directory: process.argv[2] },
    Handler: 'bootstrap',
    Runtime: 'provided',
    MemorySize: 128,
  });
  try {
    assert.deepStrictEqual(await fn({ hello: 'world' }), { HELLO: 'WORLD' });
    assert.deepStrictEqual(await fn({ again: 'yes' }), { AGAIN: 'YES' });
    let error;
    try {
      await fn({ fail: 'please' });
    } catch (e) {
      error = e;
    }
    assert.ok(error, 'a failing command must fail the invocation');
    const text = JSON.stringify(error);
    assert.match(String(error.message), /exited with status 3/);
    assert.match(String(error.message), /boom/);
    console.log('error object:', text);
    assert.deepStrictEqual(await fn({ after: 'error' }), { AFTER: 'ERROR' });
    console.log('ok: @vercel/fun round trips through hotwrap');
  } finally {
    await fn.destroy();
  }
})().catch((e) => {
  console.error('FAIL:', e);
  process.exit(1);
});
JS
timeout 120 node smoke.js "$work/task"
