#!/usr/bin/env python3
"""The lambda contract end to end: the built static hotwrap against runtime_api.py, a Runtime API
server written from Lambda's documentation.

    python3 tests/lambda/test_lambda.py BUILD/hotwrap [unittest args, e.g. -k deadline]

Every wait is bounded; nothing asserts on timing.
"""

import base64
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import runtime_api  # noqa: E402

HOTWRAP = None
MiB = 1024 * 1024


def wait_until(pred, timeout=20.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.02)
    return pred()


def read(path):
    with open(path) as f:
        return f.read()


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def descendants(pid):
    out = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % p) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except OSError:
            continue
        if ppid == pid:
            out.append(int(p))
            out.extend(descendants(int(p)))
    return out


class Hotwrap:
    """hotwrap running against `server`; stderr collected by a thread."""

    def __init__(self, server, command, env=None):
        e = {k: v for k, v in os.environ.items() if not k.startswith(("HOTWRAP_", "AWS_", "FN_"))}
        e.pop("PORT", None)
        e["AWS_LAMBDA_RUNTIME_API"] = server.address
        e.update(env or {})
        self.proc = subprocess.Popen([HOTWRAP] + command, env=e, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.lines = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line.decode("utf-8", "replace"))

    @property
    def log(self):
        return "".join(self.lines)

    def logged(self, text):
        """Whether `text` reaches the log within 20 s: the reader thread lags hotwrap's write."""
        return wait_until(lambda: text in self.log)

    def vmhwm_kib(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
        return -1

    def wait(self, timeout=20):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("hotwrap did not exit in %s s; log:\n%s" % (timeout, self.log))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.wait()
        self.reader.join(5)
        self.proc.stdout.close()


class LambdaTest(unittest.TestCase):
    def setUp(self):
        self.server = runtime_api.Server()
        self.tmp = tempfile.mkdtemp(prefix="hotwrap-lambda-")
        self.hotwraps = []

    def tearDown(self):
        for h in self.hotwraps:
            h.stop()
        self.server.stop()
        subprocess.run(["rm", "-rf", self.tmp])

    def start(self, command, **env):
        h = Hotwrap(self.server, command, {k: str(v) for k, v in env.items()})
        self.hotwraps.append(h)
        return h

    def sh(self, script, **env):
        return self.start(["/bin/sh", "-c", script], **env)

    # ---- the loop ----

    def test_success_and_keep_alive(self):
        h = self.sh("cat; echo; echo \"$HOTWRAP_CALL_ID\"")
        for i in range(5):
            r = self.server.invoke('{"n": %d}' % i)
            self.assertEqual(r.kind, "response", h.log)
            body, call_id = r.body.decode().rsplit("\n", 2)[:2]
            self.assertEqual(body, '{"n": %d}' % i)
            self.assertFalse(r.streamed)
        self.assertEqual(self.server.connections, 1, "one kept-alive connection for every exchange")
        h.stop()
        self.assertEqual(h.proc.returncode, 0, h.log)

    def test_environment(self):
        h = self.sh("env")
        r = self.server.invoke("{}", headers={"Lambda-Runtime-Client-Context": '{"c":1}',
                                              "Lambda-Runtime-Cognito-Identity": '{"i":2}'})
        env = dict(line.split("=", 1) for line in r.body.decode().splitlines() if "=" in line)
        inv_id = [i for i in self.server.by_id][0]
        self.assertEqual(env["HOTWRAP_CALL_ID"], inv_id, h.log)
        self.assertEqual(env["LAMBDA_RUNTIME_AWS_REQUEST_ID"], inv_id)
        self.assertTrue(env["_X_AMZN_TRACE_ID"].startswith("Root=1-"))
        self.assertEqual(env["LAMBDA_RUNTIME_TRACE_ID"], env["_X_AMZN_TRACE_ID"])
        self.assertEqual(env["LAMBDA_RUNTIME_INVOKED_FUNCTION_ARN"], runtime_api.ARN)
        self.assertEqual(env["LAMBDA_RUNTIME_CLIENT_CONTEXT"], '{"c":1}')
        self.assertEqual(env["LAMBDA_RUNTIME_COGNITO_IDENTITY"], '{"i":2}')
        self.assertRegex(env["HOTWRAP_DEADLINE"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        self.assertIn("LAMBDA_RUNTIME_DEADLINE_MS", env)

    def test_failure_with_stderr_tail(self):
        h = self.sh("cat >/dev/null; echo 'parse error: bad input' >&2; exit 3")
        r = self.server.invoke("x")
        self.assertEqual(r.kind, "error", h.log)
        self.assertEqual(r.headers["Lambda-Runtime-Function-Error-Type"], "Runtime.ExitError")
        err = r.json()
        self.assertEqual(err["errorType"], "Runtime.ExitError")
        self.assertIn("exited with status 3", err["errorMessage"])
        self.assertIn("parse error: bad input", err["errorMessage"])
        self.assertIn("parse error: bad input", err["stackTrace"])
        # The loop goes on.
        self.assertEqual(self.server.invoke("y").kind, "error")

    def test_signal(self):
        h = self.sh("kill -9 $$")
        r = self.server.invoke("x")
        self.assertEqual(r.kind, "error", h.log)
        self.assertEqual(r.json()["errorType"], "Runtime.ExitError")
        self.assertIn("killed by signal 9", r.json()["errorMessage"])

    def test_init_error(self):
        h = self.start(["/nonexistent/command"])
        self.assertEqual(h.wait(), 127, h.log)
        self.assertEqual(len(self.server.init_errors), 1, h.log)
        e = self.server.init_errors[0]
        self.assertEqual(e.headers["Lambda-Runtime-Function-Error-Type"], "Runtime.InvalidEntrypoint")
        self.assertIn("/nonexistent/command", e.json()["errorMessage"])

    def test_deadline_kills_forked_child(self):
        pidfile = os.path.join(self.tmp, "child")
        h = self.sh("cat >/dev/null; (sleep 60; echo late) & echo $! > %s; sleep 60" % pidfile)
        r = self.server.invoke("x", deadline_in_ms=1500)
        self.assertEqual(r.kind, "error", h.log)
        self.assertEqual(r.headers["Lambda-Runtime-Function-Error-Type"], "Runtime.Timeout")
        self.assertIn("did not finish", r.json()["errorMessage"])
        child = int(read(pidfile))
        self.assertTrue(wait_until(lambda: not alive(child)), "the forked child outlived the call")
        self.assertTrue(wait_until(lambda: descendants(h.proc.pid) == []), "processes left")
        # The next event is served.
        h2 = self.server.invoke("y", deadline_in_ms=1500)
        self.assertEqual(h2.kind, "error")

    def test_deadline_from_vercel_fun_is_ignored(self):
        # @vercel/fun sends the constant 5000: no deadline, not one that passed in 1970.
        h = self.sh("cat")
        r = self.server.invoke("ok", deadline_ms=5000)
        self.assertEqual((r.kind, r.body), ("response", b"ok"), h.log)

    def test_runtime_api_500_exits(self):
        h = self.sh("cat")
        self.server.fail_next_post = 500
        self.server.invoke("x")
        self.assertEqual(h.wait(), 1, h.log)
        self.assertTrue(h.logged("non-recoverable"), h.log)

    def test_413_becomes_an_error(self):
        self.server.buffered_limit = 1000
        h = self.sh("head -c 2000 /dev/zero")
        r = self.server.invoke("x")
        self.assertEqual(r.kind, "error", h.log)
        self.assertEqual(r.json()["errorType"], "Function.ResponseSizeTooLarge")
        self.assertTrue(h.logged("413"), h.log)

    def test_reconnects_when_the_server_closes(self):
        self.server.close_after_each = True
        self.sh("cat")
        for i in range(3):
            self.assertEqual(self.server.invoke("e%d" % i).body, b"e%d" % i)
        self.assertGreaterEqual(self.server.connections, 4)

    # ---- streaming ----

    def test_stream_100_mib_bounded_memory(self):
        h = self.sh("cat >/dev/null; head -c %d /dev/zero" % (100 * MiB))
        r = self.server.invoke("x", timeout=120)
        self.assertEqual(r.kind, "response", h.log)
        self.assertTrue(r.streamed)
        self.assertEqual(r.size, 100 * MiB)
        self.assertEqual(r.headers["Lambda-Runtime-Function-Response-Mode"], "streaming")
        self.assertIn("Lambda-Runtime-Function-Error-Type", r.headers["Trailer"])
        self.assertEqual(r.trailers, {})
        hwm = h.vmhwm_kib()
        print("\n  VmHWM after streaming 100 MiB: %d KiB" % hwm, file=sys.stderr)
        # A sanitizer build's shadow memory is no measure of hotwrap's own.
        with open(HOTWRAP, "rb") as f:
            sanitized = b"AddressSanitizer" in f.read()
        if not sanitized:
            self.assertLess(hwm, 24 * 1024)

    def test_stream_forced(self):
        h = self.sh("cat", HOTWRAP_LAMBDA_STREAM=1)
        r = self.server.invoke("small")
        self.assertEqual((r.kind, r.body, r.streamed), ("response", b"small", True), h.log)

    def test_failure_after_streaming_began(self):
        h = self.sh("cat >/dev/null; head -c %d /dev/zero; echo 'it broke' >&2; exit 4" % (8 * MiB))
        r = self.server.invoke("x")
        self.assertEqual(r.kind, "response", h.log)
        self.assertTrue(r.streamed)
        self.assertEqual(r.trailers["Lambda-Runtime-Function-Error-Type"], "Runtime.ExitError")
        err = json.loads(base64.b64decode(r.trailers["Lambda-Runtime-Function-Error-Body"]))
        self.assertIn("exited with status 4", err["errorMessage"])
        self.assertIn("it broke", err["errorMessage"])

    def test_under_the_buffered_limit_is_buffered(self):
        # Past the reply's own hold limit (1 MiB) but under Lambda's 6 MB: one buffered post, so a
        # failure is still a proper /error.
        h = self.sh("cat >/dev/null; head -c %d /dev/zero; exit 2" % (3 * MiB))
        r = self.server.invoke("x")
        self.assertEqual(r.kind, "error", h.log)
        h2 = self.server.invoke("x")
        self.assertFalse(h2.streamed)

    # ---- HTTP events ----

    V2 = {
        "version": "2.0", "routeKey": "$default", "rawPath": "/my/path",
        "rawQueryString": "a=1&b=two", "cookies": ["c1=v1", "c2=v2"],
        "headers": {"x-foo": "bar", "content-type": "application/octet-stream"},
        "requestContext": {"http": {"method": "POST", "path": "/my/path", "protocol": "HTTP/1.1",
                                    "sourceIp": "1.2.3.4", "userAgent": "test"},
                           "requestId": "r1", "domainName": "x.lambda-url.eu-west-1.on.aws"},
        "isBase64Encoded": True,
    }
    ECHO = ("printf '%s %s %s %s %s|' \"$Http_Method\" \"$Http_Path\" \"$Http_Query\" "
            "\"$Http_X_Foo\" \"$Http_Cookie\"; cat")

    def test_http_v2_binary_both_ways(self):
        h = self.sh(self.ECHO)
        body = bytes(range(256))
        event = dict(self.V2, body=base64.b64encode(body).decode())
        r = self.server.invoke(json.dumps(event))
        self.assertEqual(r.kind, "response", h.log)
        a = r.json()
        self.assertEqual(a["statusCode"], 200)
        self.assertTrue(a["isBase64Encoded"])
        self.assertEqual(base64.b64decode(a["body"]),
                         b"POST /my/path a=1&b=two bar c1=v1; c2=v2|" + body)
        self.assertEqual(a["headers"]["content-type"], "application/octet-stream")

    def test_http_v2_text(self):
        h = self.sh("cat", HOTWRAP_CONTENT_TYPE="text/plain")
        event = dict(self.V2, body="héllo", isBase64Encoded=False)
        a = self.server.invoke(json.dumps(event)).json()
        self.assertEqual((a["statusCode"], a["body"], a["isBase64Encoded"]), (200, "héllo", False),
                         h.log)
        self.assertEqual(a["headers"]["content-type"], "text/plain")

    def test_http_v1(self):
        h = self.sh(self.ECHO)
        event = {"resource": "/{p+}", "path": "/v1/path", "httpMethod": "PUT",
                 "headers": {"X-Foo": "one"}, "multiValueHeaders": {"X-Foo": ["one", "two"]},
                 "queryStringParameters": {"q": "a b"},
                 "multiValueQueryStringParameters": {"q": ["a b"]},
                 "requestContext": {"stage": "prod"}, "body": "text body",
                 "isBase64Encoded": False}
        a = self.server.invoke(json.dumps(event)).json()
        self.assertEqual(a["statusCode"], 200, h.log)
        self.assertEqual(a["body"], "PUT /v1/path q=a%20b one, two |text body")

    def test_http_function_url_stream(self):
        h = self.sh(self.ECHO, HOTWRAP_LAMBDA_STREAM=1)
        event = dict(self.V2, body=base64.b64encode(b"\xff\x00z").decode())
        r = self.server.invoke(json.dumps(event))
        self.assertEqual(r.kind, "response", h.log)
        self.assertEqual(r.headers["Content-Type"],
                         "application/vnd.awslambda.http-integration-response")
        prelude, _, body = r.body.partition(b"\0" * 8)
        self.assertEqual(json.loads(prelude)["statusCode"], 200)
        self.assertEqual(body, b"POST /my/path a=1&b=two bar c1=v1; c2=v2|\xff\x00z")

    def test_http_cgi_status_headers_and_variables(self):
        # An old cgi-bin script: its Status and headers become statusCode and headers, and it
        # reads the request from the CGI variables.
        script = ("cat >/dev/null; printf 'Status: 404 Not Found\\r\\nContent-Type: text/plain\\r\\n"
                  "X-Thing: yes\\r\\n\\r\\n'; "
                  "printf '%s %s %s %s %s %s' \"$REQUEST_METHOD\" \"$PATH_INFO\" "
                  "\"$QUERY_STRING\" \"$REMOTE_ADDR\" \"$CONTENT_LENGTH\" \"$HTTP_X_FOO\"")
        h = self.sh(script, HOTWRAP_CGI=1)
        event = dict(self.V2, body=base64.b64encode(b"12345").decode())
        r = self.server.invoke(json.dumps(event))
        self.assertEqual(r.kind, "response", h.log)
        a = r.json()
        self.assertEqual(a["statusCode"], 404, h.log)
        headers = {k.lower(): v for k, v in a["headers"].items()}
        self.assertEqual(headers["content-type"], "text/plain")
        self.assertEqual(headers["x-thing"], "yes")
        self.assertEqual(a["body"], "POST /my/path a=1&b=two 1.2.3.4 5 bar")

    def test_http_cgi_v1_source_ip_and_redirect(self):
        h = self.sh("cat >/dev/null; printf 'Location: /elsewhere\\n\\n'; printf \"$REMOTE_ADDR\"",
                    HOTWRAP_CGI=1)
        event = {"path": "/old", "httpMethod": "GET", "headers": {},
                 "requestContext": {"identity": {"sourceIp": "5.6.7.8"}}, "body": None,
                 "isBase64Encoded": False}
        a = self.server.invoke(json.dumps(event)).json()
        self.assertEqual(a["statusCode"], 302, h.log)
        self.assertEqual({k.lower(): v for k, v in a["headers"].items()}["location"], "/elsewhere")
        self.assertEqual(a["body"], "5.6.7.8")

    def test_cgi_broken_head_is_an_error(self):
        h = self.sh("cat >/dev/null; printf 'Status: 200\\nno colon here\\n\\nbody'",
                    HOTWRAP_CGI=1)
        r = self.server.invoke(json.dumps(dict(self.V2, body="")))
        self.assertEqual(r.kind, "error", h.log)
        self.assertEqual(r.headers["Lambda-Runtime-Function-Error-Type"], "Runtime.BadOutput")
        self.assertIn("CGI", r.json()["errorMessage"])

    def test_http_failure_is_an_error(self):
        h = self.sh("echo nope >&2; exit 1")
        r = self.server.invoke(json.dumps(dict(self.V2, body="")))
        self.assertEqual(r.kind, "error", h.log)

    def test_event_mode_raw(self):
        h = self.sh("cat", HOTWRAP_LAMBDA_EVENT="raw")
        event = json.dumps(dict(self.V2, body="x"))
        self.assertEqual(self.server.invoke(event).body.decode(), event, h.log)

    def test_event_mode_http_refuses_others(self):
        h = self.sh("cat", HOTWRAP_LAMBDA_EVENT="http")
        r = self.server.invoke('{"Records": []}')
        self.assertEqual(r.kind, "error", h.log)
        self.assertEqual(r.json()["errorType"], "Runtime.InvalidEvent")

    # ---- prespawn, concurrency, shutdown ----

    def test_prespawn(self):
        boots = os.path.join(self.tmp, "boots")
        h = self.sh("echo $$ >> %s; cat >/dev/null; . \"$HOTWRAP_CALL_ENV_FILE\"; "
                    "printf %%s \"$HOTWRAP_CALL_ID\"" % boots, HOTWRAP_PRESPAWN=1)
        # A process boots while hotwrap waits on /next, before any event exists.
        self.assertTrue(wait_until(lambda: os.path.exists(boots)), h.log)
        first = read(boots).split()
        self.assertEqual(len(first), 1)
        inv = self.server.queue("x")
        self.assertTrue(inv.result.done.wait(20), h.log)
        self.assertEqual(inv.result.body.decode(), inv.id)
        # It served the event: no new process was spawned for it; the next one boots afterwards.
        self.assertTrue(wait_until(lambda: len(read(boots).split()) == 2), h.log)

    def test_concurrency_4(self):
        d = os.path.join(self.tmp, "running")
        os.mkdir(d)
        # Each call waits (bounded) until four calls are running at once.
        h = self.sh("cat >/dev/null; touch %s/$HOTWRAP_CALL_ID; i=0; "
                    "while [ $(ls %s | wc -l) -lt 4 ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); "
                    "done; ls %s | wc -l" % (d, d, d), AWS_LAMBDA_MAX_CONCURRENCY=4)
        self.assertTrue(wait_until(lambda: self.server.waiting == 4), h.log)
        invs = [self.server.queue("e") for _ in range(4)]
        for inv in invs:
            self.assertTrue(inv.result.done.wait(60), h.log)
            self.assertEqual(inv.result.body.strip(), b"4")
        self.assertEqual(self.server.connections, 4)

    def test_sigterm_idle(self):
        h = self.sh("cat")
        self.assertTrue(wait_until(lambda: self.server.waiting == 1), h.log)
        h.proc.send_signal(signal.SIGTERM)
        self.assertEqual(h.wait(), 0, h.log)

    def test_sigterm_while_running(self):
        started = os.path.join(self.tmp, "started")
        h = self.sh("cat >/dev/null; touch %s; sleep 1; echo finished" % started)
        inv = self.server.queue("x")
        self.assertTrue(wait_until(lambda: os.path.exists(started)), h.log)
        h.proc.send_signal(signal.SIGTERM)
        self.assertEqual(h.wait(), 0, h.log)
        self.assertTrue(inv.result.done.is_set())
        self.assertEqual(inv.result.body, b"finished\n")
        self.assertEqual(descendants(h.proc.pid), [])


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: test_lambda.py HOTWRAP_BINARY [unittest args]")
    HOTWRAP = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)
