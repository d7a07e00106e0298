#!/usr/bin/env bash
# The layers of the README's Design section, checked with grep: each directory includes only the
# layers below it, protocols hold no socket code, transports no platform policy.
set -uo pipefail
cd "$(dirname "$0")/.."
bad=0
fail() { echo "layering: $*"; bad=1; }

# Source lines without their // comments (a comment may name a platform as an example).
code() { awk '{ sub(/\/\/.*/, ""); printf "%s:%d:%s\n", FILENAME, FNR, $0 }' "$@"; }

includes() {  # includes DIR PATTERN: lines of DIR's sources that include a header matching PATTERN
  grep -nE "^#include \"($2)/" "$1"/*.[ch]pp 2>/dev/null
}
hits=$(includes hotwrap 'app|protocols|transports') && fail "the core includes a layer above it:"$'\n'"$hits"
hits=$(includes transports 'app|protocols') && fail "a transport includes a protocol or app:"$'\n'"$hits"
hits=$(includes protocols 'app') && fail "a protocol includes app/:"$'\n'"$hits"
# Protocols never make or accept sockets, nor touch processes.
hits=$(code protocols/*.[ch]pp |
  grep -E '<sys/socket\.h>|<sys/un\.h>|\b(socket|bind|listen|accept4?|connect|posix_spawnp?|fork|kill)\(') &&
  fail "socket or process code in protocols/:"$'\n'"$hits"
# Transports and the core know no platform: no Fn (or other platform) names.
hits=$(code transports/*.[ch]pp hotwrap/*.[ch]pp | grep -E '\bFN_[A-Z]|Fn-[A-Z]|fnproject|OpenFaaS|Lambda') &&
  fail "platform policy in transports/ or hotwrap/:"$'\n'"$hits"
# The loop is stopped in one place.
hits=$(code hotwrap/*.[ch]pp protocols/*.[ch]pp transports/*.[ch]pp app/*.[ch]pp |
  grep -E '\.stop\([^)]' | grep -v '^hotwrap/loop\.cpp:' | grep -v '^app/lifecycle\.hpp:') &&
  fail "the loop is stopped outside app/lifecycle.hpp:"$'\n'"$hits"
((bad)) && exit 1
echo "layering: ok"
