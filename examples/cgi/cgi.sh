#!/bin/sh
# A classic CGI script, unchanged from a cgi-bin directory: the request is in the CGI variables
# and on stdin, the answer is a header block, a blank line and the body on stdout. It routes on
# the end of the path (an Fn trigger's URL ends with the trigger's own path).
case "$PATH_INFO" in
*/missing)
  cat >/dev/null
  printf 'Status: 404 Not Found\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n'
  printf 'nothing at %s\n' "$PATH_INFO"
  ;;
*/old)
  cat >/dev/null
  # A Location without a Status is a redirect: 302.
  printf 'Location: https://example.com/new\r\n\r\n'
  ;;
*)
  bytes=$(wc -c | tr -d ' ')
  # The query string is the caller's: escaped before it goes into JSON.
  query=$(printf '%s' "$QUERY_STRING" | sed 's/[\\"]/\\&/g')
  printf 'Content-Type: application/json\r\nCache-Control: no-store\r\n\r\n'
  printf '{"method":"%s","query":"%s","bytes":%s}\n' "$REQUEST_METHOD" "$query" "$bytes"
  ;;
esac
