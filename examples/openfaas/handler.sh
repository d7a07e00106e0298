#!/bin/sh
# An OpenFaaS-style handler: the request body on stdin, the request in Http_* variables.
case "$Http_Path" in
  /fail) echo "no such thing: $Http_Query" >&2; exit 3 ;;
esac
printf '%s %s?%s (call %s)\n' "$Http_Method" "$Http_Path" "$Http_Query" "$HOTWRAP_CALL_ID"
tr 'a-z' 'A-Z'
