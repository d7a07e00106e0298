#!/usr/bin/env python3
"""Soak test of one hotwrap (http-stream): many calls of every kind, then the same figures as
before them. Run through bench/soak.sh.

  soak_driver.py --calls N [--workers W] [--max-seconds S] BINARY

Starts BINARY wrapping a small sh script, warms it up with every kind of call, measures its
descriptors (/proc/<pid>/fd), resident memory (VmRSS) and children, runs N calls on W kept-alive
connections, measures again and requires: the same descriptor count, no child and no zombie left,
RSS grown by at most 64 KiB, every call answered as expected, and a clean exit 0 on SIGTERM with
both socket files gone. Prints the figures; exits 1 on any failure.

Kinds of call (by call number, out of every 100): 78 echo (small bodies, chunked or with
Content-Length), 10 failing (exit 3 -> 502), 2 HTTP-trigger failing (200, Fn-Http-Status: 500),
1 deadline (Fn-Deadline a few hundred ms ahead, command sleeps -> 504), 3 large bodies (1-4 MiB,
streamed both ways), and 6 disconnects: during the head, during the body, while the command
runs, while the response streams.

Every wait is bounded: sockets have timeouts, and the whole run stops at --max-seconds. All
traffic is on the unix socket in a fresh temporary directory.
"""

import argparse
import hashlib
import os
import random
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

RSS_GROWTH_LIMIT_KIB = 64
CALL_TIMEOUT = 30.0  # seconds, per call
MARGIN_MS = 50       # HOTWRAP_DEADLINE_MARGIN_MS for the run
GRACE_MS = 20        # HOTWRAP_KILL_GRACE_MS for the run

COMMAND = r"""
case "$FN_MODE" in
  echo) exec cat ;;
  fail) cat >/dev/null; echo "soak: failing on purpose" >&2; exit 3 ;;
  trigger-fail) cat; exit 3 ;;
  sleep) exec sleep 30 ;;
  *) echo "soak: unknown mode '$FN_MODE'" >&2; exit 2 ;;
esac
"""


class Unexpected(Exception):
    pass


def rfc3339_in(seconds):
    t = time.time() + seconds
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%03dZ" % int((t % 1) * 1000)


def request_head(mode, framing, length=0, extra=()):
    lines = [
        "POST /call HTTP/1.1",
        "Host: localhost",
        "User-Agent: Go-http-client/1.1",
        "Transfer-Encoding: chunked" if framing == "chunked" else "Content-Length: %d" % length,
        "Fn-Call-Id: soak-%d" % random.getrandbits(48),
        "Fn-Mode: %s" % mode,
    ]
    lines += list(extra)
    if not any(h.startswith("Fn-Deadline:") for h in extra):
        lines.append("Fn-Deadline: " + rfc3339_in(CALL_TIMEOUT))
    lines.append("Accept-Encoding: gzip")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def chunked(body, piece=64 * 1024):
    out = bytearray()
    for i in range(0, len(body), piece):
        part = body[i:i + piece]
        out += b"%x\r\n" % len(part) + part + b"\r\n"
    out += b"0\r\n\r\n"
    return bytes(out)


class ResponseParser:
    """Incremental HTTP/1.1 response parser (Content-Length or chunked)."""

    def __init__(self):
        self.buf = bytearray()
        self.status = None
        self.headers = {}
        self.body = bytearray()
        self.complete = False
        self._state = "head"
        self._left = 0

    def feed(self, data):
        self.buf += data
        while not self.complete:
            if self._state == "head":
                end = self.buf.find(b"\r\n\r\n")
                if end < 0:
                    return
                lines = bytes(self.buf[:end]).decode("latin-1").split("\r\n")
                del self.buf[:end + 4]
                parts = lines[0].split(" ", 2)
                if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
                    raise Unexpected("bad status line %r" % lines[0])
                self.status = int(parts[1])
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    self.headers.setdefault(name.strip().lower(), value.strip())
                if self.headers.get("transfer-encoding", "").lower() == "chunked":
                    self._state = "size"
                else:
                    self._left = int(self.headers.get("content-length", "0"))
                    self._state = "fixed"
            elif self._state == "fixed":
                take = min(self._left, len(self.buf))
                self.body += self.buf[:take]
                del self.buf[:take]
                self._left -= take
                if self._left == 0:
                    self.complete = True
                else:
                    return
            elif self._state == "size":
                end = self.buf.find(b"\r\n")
                if end < 0:
                    return
                size = int(bytes(self.buf[:end]).split(b";")[0], 16)
                del self.buf[:end + 2]
                self._left = size
                self._state = "data" if size else "trailer"
            elif self._state == "data":
                if len(self.buf) < self._left + 2:
                    take = min(self._left, len(self.buf))
                    self.body += self.buf[:take]
                    del self.buf[:take]
                    self._left -= take
                    return
                self.body += self.buf[:self._left]
                if self.buf[self._left:self._left + 2] != b"\r\n":
                    raise Unexpected("chunk not followed by CRLF")
                del self.buf[:self._left + 2]
                self._left = 0
                self._state = "size"
            elif self._state == "trailer":
                if self.buf.startswith(b"\r\n"):
                    del self.buf[:2]
                    self.complete = True
                else:
                    end = self.buf.find(b"\r\n\r\n")
                    if end < 0:
                        return
                    del self.buf[:end + 4]
                    self.complete = True


class Conn:
    def __init__(self, path):
        self.path = path
        self.sock = None

    def open(self):
        if self.sock is not None:
            return self.sock
        end = time.monotonic() + CALL_TIMEOUT
        while True:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.setblocking(False)
            try:
                sock.connect(self.path)
                self.sock = sock
                return sock
            except BlockingIOError:
                # The listen queue is full (callers that hung up faster than hotwrap accepts):
                # a real caller's connect() would wait here too.
                sock.close()
                if time.monotonic() > end:
                    raise Unexpected("connect: listen queue still full after %.0f s" % CALL_TIMEOUT)
                time.sleep(0.001)

    def hang_up(self):
        """Half-closes and waits (bounded) until hotwrap closes its side: the handshake that it
        noticed the caller leaving, killed what ran for it and released the connection."""
        sock = self.sock
        sock.shutdown(socket.SHUT_WR)
        end = time.monotonic() + 10
        while True:
            left = end - time.monotonic()
            if left <= 0:
                self.close()
                raise Unexpected("hotwrap kept the connection open 10 s after the caller left")
            r, _, _ = select.select([sock], [], [], left)
            if not r:
                continue
            try:
                if not sock.recv(1 << 20):
                    break
            except BlockingIOError:
                continue
            except ConnectionResetError:
                break
        self.close()

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def exchange(self, data, stop_after_body=None, timeout=CALL_TIMEOUT):
        """Sends `data` while reading the response (hotwrap answers as it reads). Returns the
        parser. With stop_after_body, returns as soon as that many body bytes have arrived."""
        sock = self.open()
        parser = ResponseParser()
        view = memoryview(data)
        sent = 0
        end = time.monotonic() + timeout
        while True:
            want_write = sent < len(view)
            if parser.complete and not want_write:
                return parser
            if stop_after_body is not None and len(parser.body) >= stop_after_body:
                return parser
            left = end - time.monotonic()
            if left <= 0:
                raise Unexpected("no complete response within %.0f s (status %s, %d body bytes)"
                                 % (timeout, parser.status, len(parser.body)))
            r, w, _ = select.select([sock], [sock] if want_write else [], [], left)
            if w:
                try:
                    sent += sock.send(view[sent:sent + 256 * 1024])
                except BlockingIOError:
                    pass
            if r:
                try:
                    chunk = sock.recv(1 << 20)
                except BlockingIOError:
                    continue
                if not chunk:
                    raise Unexpected("connection closed before the response was complete "
                                     "(status %s, %d body bytes)" % (parser.status, len(parser.body)))
                parser.feed(chunk)

    def send_only(self, data):
        sock = self.open()
        sock.setblocking(True)
        sock.settimeout(CALL_TIMEOUT)
        sock.sendall(data)
        sock.setblocking(False)


def expect(cond, what):
    if not cond:
        raise Unexpected(what)


ONLY = None  # --only KIND: every call of that kind (to find which kind a leak comes from)


def kind_of(n):
    if ONLY is not None:
        return ONLY
    k = n % 100
    if k < 78:
        return "echo"
    if k < 88:
        return "fail"
    if k < 90:
        return "trigger-fail"
    if k < 91:
        return "deadline"
    if k < 94:
        return "large"
    return ("dc-head", "dc-body", "dc-running", "dc-running", "dc-stream", "dc-body")[k - 94]


def one_call(conn, kind, rng):
    if kind == "echo":
        body = rng.randbytes(rng.randrange(0, 4096))
        framing = "chunked" if rng.random() < 0.8 else "length"
        data = request_head("echo", framing, len(body)) + (chunked(body) if framing == "chunked" else body)
        r = conn.exchange(data)
        expect(r.status == 200, "echo: status %s" % r.status)
        expect(bytes(r.body) == body, "echo: body differs (%d vs %d bytes)" % (len(r.body), len(body)))
    elif kind == "fail":
        body = rng.randbytes(rng.randrange(0, 2048))
        r = conn.exchange(request_head("fail", "chunked") + chunked(body))
        expect(r.status == 502, "fail: status %s, expected 502" % r.status)
    elif kind == "trigger-fail":
        body = b"trigger body %d" % rng.getrandbits(32)
        r = conn.exchange(request_head("trigger-fail", "chunked", extra=["Fn-Intent: httprequest",
                                                                          "Fn-Http-Method: POST"])
                          + chunked(body))
        expect(r.status == 200 and r.headers.get("fn-http-status") == "500",
               "trigger-fail: status %s, Fn-Http-Status %s" % (r.status, r.headers.get("fn-http-status")))
        expect(bytes(r.body) == body, "trigger-fail: body differs")
    elif kind == "deadline":
        started = time.monotonic()
        r = conn.exchange(request_head("sleep", "chunked", extra=["Fn-Deadline: " + rfc3339_in(0.3)])
                          + chunked(b"x"), timeout=5)
        took = time.monotonic() - started
        expect(r.status == 504, "deadline: status %s, expected 504" % r.status)
        expect(took < 2.0, "deadline: the 504 took %.2f s" % took)
    elif kind == "large":
        body = rng.randbytes(rng.randrange(1 << 20, 4 << 20))
        r = conn.exchange(request_head("echo", "chunked") + chunked(body), timeout=60)
        expect(r.status == 200, "large: status %s" % r.status)
        expect(len(r.body) == len(body) and hashlib.sha1(r.body).digest() == hashlib.sha1(body).digest(),
               "large: body differs (%d vs %d bytes)" % (len(r.body), len(body)))
    elif kind == "dc-head":
        head = request_head("echo", "chunked")
        conn.send_only(head[:rng.randrange(1, len(head) - 4)])
        conn.close()
    elif kind == "dc-body":
        body = rng.randbytes(rng.randrange(1, 200000))
        data = request_head("echo", "length", len(body) + 1000) + body
        conn.send_only(data)
        conn.close()
    elif kind == "dc-running":
        conn.send_only(request_head("sleep", "chunked") + chunked(b"zz"))
        conn.hang_up()
    elif kind == "dc-stream":
        body = rng.randbytes(3 << 20)
        r = conn.exchange(request_head("echo", "chunked") + chunked(body), stop_after_body=(1 << 20) + 4096)
        expect(r.status == 200, "dc-stream: status %s" % r.status)
        conn.hang_up()
    else:
        raise AssertionError(kind)


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.done = 0
        self.by_kind = {}
        self.errors = []


def worker(path, calls, stats, seed, stop_at):
    rng = random.Random(seed)
    conn = Conn(path)
    try:
        for n in calls:
            if time.monotonic() > stop_at:
                with stats.lock:
                    stats.errors.append("run time limit reached")
                return
            kind = kind_of(n)
            try:
                one_call(conn, kind, rng)
            except (Unexpected, OSError) as e:
                conn.close()
                with stats.lock:
                    stats.errors.append("call %d (%s): %s" % (n, kind, e))
            with stats.lock:
                stats.done += 1
                stats.by_kind[kind] = stats.by_kind.get(kind, 0) + 1
    finally:
        conn.close()


def run_calls(path, numbers, workers, seed, stop_at):
    stats = Stats()
    threads = []
    for w in range(workers):
        t = threading.Thread(target=worker, args=(path, numbers[w::workers], stats, seed + w, stop_at))
        t.start()
        threads.append(t)
    for t in threads:
        t.join()
    return stats


# ---- measurements ------------------------------------------------------------------------------

def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def children(pid):
    kids, zombies = 0, 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        if int(fields[1]) == pid:
            kids += 1
            zombies += fields[0] == "Z"
    return kids, zombies


def settle(pid, timeout=15.0):
    """Waits (bounded) until hotwrap has no child and its descriptor count holds still: the calls'
    processes reaped, the closed connections noticed. Returns (fds, rss KiB, children, zombies)."""
    end = time.monotonic() + timeout
    last, same = None, 0
    while True:
        kids, zombies = children(pid)
        fds = fd_count(pid)
        same = same + 1 if (fds == last and kids == 0) else 0
        last = fds
        if same >= 5 or time.monotonic() > end:
            return fds, rss_kib(pid), kids, zombies
        time.sleep(0.02)


def main():
    global ONLY
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, required=True)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--warmup", type=int, default=400)
    ap.add_argument("--max-seconds", type=float, default=3600)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--only", choices=["echo", "fail", "trigger-fail", "deadline", "large", "dc-head",
                                       "dc-body", "dc-running", "dc-stream"],
                    help="run only calls of this kind (the warm-up still runs the full mix)")
    ap.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                    help="add to hotwrap's environment (e.g. a HOTWRAP_ setting, GLIBC_TUNABLES)")
    ap.add_argument("binary")
    args = ap.parse_args()
    args.binary = os.path.abspath(args.binary)
    if args.calls < 1 or args.workers < 1:
        ap.error("--calls and --workers must be positive")

    started = time.monotonic()
    stop_at = started + args.max_seconds
    tmp = tempfile.mkdtemp(prefix="hwsoak.", dir="/tmp")
    sock = os.path.join(tmp, "lsnr.sock")
    phony = os.path.join(tmp, "phonylsnr.sock")
    log_path = os.path.join(tmp, "hotwrap.log")
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": tmp,
        "TMPDIR": tmp,
        "FN_FORMAT": "http-stream",
        "FN_LISTENER": "unix:" + sock,
        "HOTWRAP_DEADLINE_MARGIN_MS": str(MARGIN_MS),
        "HOTWRAP_KILL_GRACE_MS": str(GRACE_MS),
        "HOTWRAP_SHUTDOWN_GRACE_MS": "2000",
    }
    for kv in args.env:
        name, eq, value = kv.partition("=")
        if not eq:
            ap.error("--env takes NAME=VALUE")
        env[name] = value
    failures = []
    log = open(log_path, "wb")
    proc = subprocess.Popen([args.binary, "sh", "-c", COMMAND], env=env, stdin=subprocess.DEVNULL,
                            stdout=log, stderr=subprocess.STDOUT, cwd=tmp)
    try:
        ready_by = time.monotonic() + 5
        while not os.path.islink(sock):
            if proc.poll() is not None or time.monotonic() > ready_by:
                raise SystemExit("soak: hotwrap did not become ready (exit %s); log:\n%s"
                                 % (proc.poll(), open(log_path, "rb").read()[-2000:].decode("utf-8", "replace")))
            time.sleep(0.005)
        pid = proc.pid

        # Warm-up: every kind of call, so that buffers, the loop and the allocator reach their
        # working size before the baseline is taken.
        # First the peak: every worker streams large bodies at the same time.
        global ONLY
        ONLY = "large"
        warm = run_calls(sock, list(range(3 * args.workers)), args.workers, args.seed + 2000, stop_at)
        ONLY = None
        failures += ["warm-up " + e for e in warm.errors[:10]]
        warm = run_calls(sock, list(range(args.warmup)), args.workers, args.seed + 1000, stop_at)
        if warm.errors:
            failures += ["warm-up " + e for e in warm.errors[:10]]
        fds0, rss0, kids0, zombies0 = settle(pid)
        print("soak: before: fds %d, rss %d KiB, children %d, zombies %d (after %d warm-up calls)"
              % (fds0, rss0, kids0, zombies0, warm.done), flush=True)

        ONLY = args.only
        t0 = time.monotonic()
        stats = run_calls(sock, list(range(args.calls)), args.workers, args.seed, stop_at)
        elapsed = time.monotonic() - t0
        fds1, rss1, kids1, zombies1 = settle(pid)
        print("soak: after:  fds %d, rss %d KiB, children %d, zombies %d (after %d calls in %.1f s, "
              "%.0f calls/s)" % (fds1, rss1, kids1, zombies1, stats.done, elapsed, stats.done / elapsed),
              flush=True)
        print("soak: calls by kind: " + ", ".join("%s %d" % kv for kv in sorted(stats.by_kind.items())))
        print("soak: rss growth %+d KiB (limit %d KiB)" % (rss1 - rss0, RSS_GROWTH_LIMIT_KIB))

        if stats.errors:
            failures.append("%d calls not answered as expected, e.g.:\n    %s"
                            % (len(stats.errors), "\n    ".join(stats.errors[:10])))
        if stats.done != args.calls:
            failures.append("only %d of %d calls ran" % (stats.done, args.calls))
        if fds1 != fds0:
            failures.append("descriptors: %d before, %d after" % (fds0, fds1))
            failures.append("open descriptors now: " + ", ".join(
                "%s->%s" % (fd, os.readlink("/proc/%d/fd/%s" % (pid, fd)))
                for fd in sorted(os.listdir("/proc/%d/fd" % pid), key=int)))
        if kids1 or zombies1:
            failures.append("children left: %d (%d zombies)" % (kids1, zombies1))
        if rss1 - rss0 > RSS_GROWTH_LIMIT_KIB:
            failures.append("rss grew by %d KiB (limit %d KiB)" % (rss1 - rss0, RSS_GROWTH_LIMIT_KIB))

        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            code = None
            failures.append("hotwrap still running 10 s after SIGTERM")
        if code is not None and code != 0:
            failures.append("hotwrap exited with %s after SIGTERM" % code)
        if os.path.lexists(sock) or os.path.lexists(phony):
            failures.append("socket files left after exit")
        print("soak: exit after SIGTERM: %s; total run time %.1f s" % (code, time.monotonic() - started))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        log.close()
        if failures:
            tail = open(log_path, "rb").read()[-3000:].decode("utf-8", "replace")
            print("soak: hotwrap's log (last lines):\n" + tail)
        shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print("soak: FAILED:\n  " + "\n  ".join(failures))
        return 1
    print("soak: PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
