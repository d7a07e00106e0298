"""A faithful AWS Lambda Runtime API server for tests, written from the documentation
(https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html, runtimes-custom.html) and the
Runtime Interface Emulator's router: standard library only.

- GET  /2018-06-01/runtime/invocation/next: a long poll (no timeout): 200 with the event as the
  body and Lambda-Runtime-Aws-Request-Id, -Deadline-Ms (Unix ms), -Invoked-Function-Arn,
  -Trace-Id, and -Client-Context / -Cognito-Identity when the invocation has them (absent values
  are omitted, not empty).
- POST /2018-06-01/runtime/invocation/{id}/response: 202; a buffered body over 6 MiB → 413; with
  Lambda-Runtime-Function-Response-Mode: streaming the body is chunked, up to 200 MiB (413 past
  it), its trailers Lambda-Runtime-Function-Error-Type / -Error-Body (base64) report a failure
  after the stream began, and they must have been declared in a Trailer header.
- POST /2018-06-01/runtime/invocation/{id}/error and /2018-06-01/runtime/init/error: 202, with the
  Lambda-Runtime-Function-Error-Type header and the JSON error object.
- An unknown or already answered request id → 400 (InvalidRequestID / InvalidStateTransition).

The test side: invoke(event, ...) queues an invocation and returns its result; faults are
injected with the attributes below (an answer of 500, limits, closing connections).
"""

import base64
import hashlib
import http.server
import json
import queue
import socketserver
import sys
import threading
import time
import uuid

PREFIX = "/2018-06-01/runtime"
BUFFERED_LIMIT = 6 * 1024 * 1024
STREAMED_LIMIT = 200 * 1024 * 1024
ARN = "arn:aws:lambda:eu-west-1:123456789012:function:hotwrap-test"


class Result:
    """How an invocation was answered."""

    def __init__(self):
        self.kind = None  # "response", "error" or "refused" (413)
        self.body = b""  # kept up to keep_bytes; size and sha256 always
        self.size = 0
        self.sha256 = None
        self.headers = {}
        self.trailers = {}
        self.streamed = False
        self.done = threading.Event()

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return "Result(%s, %d bytes, %r, trailers=%r)" % (
            self.kind, self.size, self.body[:200], self.trailers)


class Invocation:
    def __init__(self, event, deadline_ms, headers):
        self.id = str(uuid.uuid4())
        self.event = event
        self.deadline_ms = deadline_ms
        self.extra = headers
        self.result = Result()


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.pending = queue.Queue()
        self.by_id = {}
        self.lock = threading.Lock()
        self.init_errors = []  # (headers, body)
        self.connections = 0  # TCP connections accepted
        self.waiting = 0  # /next requests waiting right now
        self.max_waiting = 0
        self.requests = []  # (method, path) in order
        # Faults and limits, set by tests.
        self.buffered_limit = BUFFERED_LIMIT
        self.streamed_limit = STREAMED_LIMIT
        self.fail_next_post = None  # a status (500) to answer the next post with
        self.close_after_each = False  # Connection: close on every answer
        self.keep_bytes = 1 << 20
        self.stopping = False
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    @property
    def address(self):
        return "127.0.0.1:%d" % self.server_address[1]

    def get_request(self):
        conn = super().get_request()
        with self.lock:
            self.connections += 1
        return conn

    def queue(self, event, deadline_in_ms=60000, headers=None, deadline_ms=None):
        """Queues an invocation; returns it (its result fills in when answered)."""
        if isinstance(event, str):
            event = event.encode()
        if deadline_ms is None:
            deadline_ms = int(time.time() * 1000) + deadline_in_ms
        inv = Invocation(event, deadline_ms, headers or {})
        with self.lock:
            self.by_id[inv.id] = inv
        self.pending.put(inv)
        return inv

    def invoke(self, event, timeout=60, **kw):
        inv = self.queue(event, **kw)
        if not inv.result.done.wait(timeout):
            raise TimeoutError("invocation %s not answered in %s s" % (inv.id, timeout))
        return inv.result

    def stop(self):
        self.stopping = True
        for _ in range(64):
            self.pending.put(None)
        self.shutdown()
        self.server_close()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet
        pass

    def answer(self, status, body=b"", headers=None):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        if self.server.close_after_each:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def json_answer(self, status, obj):
        self.answer(status, json.dumps(obj), {"Content-Type": "application/json"})

    def do_GET(self):
        self.server.requests.append(("GET", self.path))
        if self.path != PREFIX + "/invocation/next":
            return self.json_answer(404, {"errorType": "NotFound"})
        with self.server.lock:
            self.server.waiting += 1
            self.server.max_waiting = max(self.server.max_waiting, self.server.waiting)
        try:
            inv = self.server.pending.get()  # the long poll: no timeout
        finally:
            with self.server.lock:
                self.server.waiting -= 1
        if inv is None:
            self.close_connection = True
            return
        headers = {
            "Lambda-Runtime-Aws-Request-Id": inv.id,
            "Lambda-Runtime-Deadline-Ms": str(inv.deadline_ms),
            "Lambda-Runtime-Invoked-Function-Arn": ARN,
            "Lambda-Runtime-Trace-Id":
                "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1",
            "Content-Type": "application/json",
        }
        headers.update(inv.extra)
        self.answer(200, inv.event, headers)

    def read_body(self, result, limit):
        """Reads a Content-Length or chunked body into result; False when over `limit`."""
        digest = hashlib.sha256()
        keep = self.server.keep_bytes
        kept = bytearray()
        total = 0
        te = self.headers.get("Transfer-Encoding", "")
        over = False

        def take(data):
            nonlocal total, over
            total += len(data)
            if total > limit:
                over = True
            digest.update(data)
            if len(kept) < keep:
                kept.extend(data[: keep - len(kept)])

        if te.lower() == "chunked":
            result.streamed = True
            while True:
                line = self.rfile.readline(1024)
                if not line:
                    raise ConnectionError("chunked body cut short")
                size = int(line.split(b";")[0].strip(), 16)
                if size == 0:
                    break
                remaining = size
                while remaining:
                    data = self.rfile.read(min(remaining, 1 << 20))
                    if not data:
                        raise ConnectionError("chunk cut short")
                    remaining -= len(data)
                    if not over:
                        take(data)
                if self.rfile.read(2) != b"\r\n":
                    raise ConnectionError("chunk without CRLF")
            while True:  # trailers
                line = self.rfile.readline(65536)
                if line in (b"\r\n", b"\n", b""):
                    break
                name, _, value = line.decode("latin-1").partition(":")
                result.trailers[name.strip()] = value.strip()
        else:
            n = int(self.headers.get("Content-Length", "0"))
            remaining = n
            while remaining:
                data = self.rfile.read(min(remaining, 1 << 20))
                if not data:
                    raise ConnectionError("body cut short")
                remaining -= len(data)
                if not over:
                    take(data)
        result.body = bytes(kept)
        result.size = total
        result.sha256 = digest.hexdigest()
        return not over

    def do_POST(self):
        self.server.requests.append(("POST", self.path))
        path = self.path
        result = Result()
        result.headers = {k: v for k, v in self.headers.items()}
        if path == PREFIX + "/init/error":
            self.read_body(result, BUFFERED_LIMIT)
            self.server.init_errors.append(result)
            result.kind = "init_error"
            result.done.set()
            return self.json_answer(202, {"status": "OK"})
        parts = path[len(PREFIX):].split("/")
        # ['', 'invocation', id, 'response'|'error']
        if len(parts) != 4 or parts[1] != "invocation" or parts[3] not in ("response", "error"):
            return self.json_answer(404, {"errorType": "NotFound"})
        with self.server.lock:
            inv = self.server.by_id.get(parts[2])
        if inv is None:
            self.read_body(result, BUFFERED_LIMIT)
            return self.json_answer(400, {"errorType": "InvalidRequestID"})
        if inv.result.done.is_set():
            self.read_body(result, STREAMED_LIMIT)
            return self.json_answer(400, {"errorType": "InvalidStateTransition"})
        streaming = self.headers.get("Lambda-Runtime-Function-Response-Mode") == "streaming"
        if streaming:
            declared = self.headers.get("Trailer", "")
            assert self.headers.get("Transfer-Encoding", "").lower() == "chunked", \
                "a streamed response must be chunked"
        limit = self.server.streamed_limit if streaming else self.server.buffered_limit
        ok = self.read_body(result, limit)
        if streaming and result.trailers:
            for name in result.trailers:
                assert name.lower() in declared.lower(), "trailer %s not declared" % name
        fault = self.server.fail_next_post
        if fault is not None:
            self.server.fail_next_post = None
            inv.result.__dict__.update(result.__dict__, kind="injected", done=inv.result.done)
            inv.result.done.set()
            return self.json_answer(fault, {"errorMessage": "injected", "errorType": "Injected"})
        if not ok:
            # The caller sees nothing of it: the runtime may still post an error.
            self.json_answer(413, {"errorMessage": "Exceeded maximum allowed payload size (%d bytes)."
                                   % limit, "errorType": "RequestEntityTooLarge"})
            return
        result.kind = parts[3]
        inv.result.__dict__.update(result.__dict__, done=inv.result.done)
        inv.result.done.set()
        self.json_answer(202, {"status": "OK"})


if __name__ == "__main__":
    # By hand: python3 runtime_api.py, then feed events typed on stdin, one a line.
    s = Server()
    print("AWS_LAMBDA_RUNTIME_API=%s" % s.address, flush=True)
    for line in sys.stdin:
        print(s.invoke(line.rstrip("\n")))
