// The http contract (OpenFaaS, Knative, Cloud Run): hotwrap on a TCP port, driven by real clients
// (curl, Python's http.client) and by the harness's own HTTP client.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>

#include <thread>

#include "harness.hpp"

using namespace e2e;

namespace {

struct HttpServer {
  TempDir tmp;  // TMPDIR: the lock file goes here
  uint16_t port = free_tcp_port();
  std::unique_ptr<Server> srv;

  explicit HttpServer(std::vector<std::string> argv, EnvList env = {}, bool contract = true) {
    Server::Options o;
    o.argv = std::move(argv);
    o.http_stream_defaults = false;
    o.wait_ready = false;
    if (contract) o.env.emplace_back("HOTWRAP_CONTRACT", "http");
    o.env.emplace_back("HOTWRAP_PORT", std::to_string(port));
    o.env.emplace_back("HOTWRAP_METRICS_PORT", "0");
    o.env.emplace_back("TMPDIR", tmp.path());
    for (auto& e : env) o.env.push_back(std::move(e));
    srv = std::make_unique<Server>(std::move(o));
    REQUIRE_MESSAGE(wait_tcp_ready(port, 5000ms), "not listening on " << port << "\n"
                                                                      << srv->stderr_text());
  }
  std::string url(std::string_view path = "/") const {
    return "http://127.0.0.1:" + std::to_string(port) + std::string(path);
  }
  std::string lock_path() const { return tmp.path() + "/.lock"; }
  Response call(Request req, Ms timeout = 15000ms) const {
    Conn c = Conn::tcp(port);
    return c.call(req, timeout);
  }
};

// hotwrap run to its exit (a start-up error), with no Fn defaults.
RunResult start_error(EnvList env) {
  Server::Options o;
  o.argv = {"cat"};
  o.env = std::move(env);
  o.http_stream_defaults = false;
  return run_to_exit(std::move(o));
}

// Lets a command blocked on `fifo` go on.
void release(const std::string& fifo) {
  int fd = ::open(fifo.c_str(), O_WRONLY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  CHECK(::write(fd, "go\n", 3) == 3);
  ::close(fd);
}

Request plain(std::string method, std::string path, std::string body = {}) {
  Request r;
  r.method = std::move(method);
  r.path = std::move(path);
  r.body = std::move(body);
  r.framing = Request::Framing::ContentLength;
  r.default_headers = false;
  r.headers = {{"Host", "localhost"}};
  return r;
}

// curl -i: the status line, headers and body as curl saw them.
ClientResult curl(std::vector<std::string> args) {
  std::vector<std::string> argv = {"curl", "-sS", "-i", "--max-time", "20"};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_client(argv, 25000ms);
}

bool file_exists(const std::string& path) {
  struct stat st{};
  return ::stat(path.c_str(), &st) == 0;
}

const char* kEnvScript =
    "printf 'method=%s\\npath=%s\\nquery=%s\\nfoo=%s\\nlen=%s\\nproxy=%s\\nid=%s\\ndeadline=%s\\n' "
    "\"$Http_Method\" \"$Http_Path\" \"$Http_Query\" \"$Http_X_Foo_Bar\" \"$Http_Content_Length\" "
    "\"${Http_Proxy-unset}\" \"$HOTWRAP_CALL_ID\" \"$HOTWRAP_DEADLINE\"; cat";

}  // namespace

TEST_CASE(
    "http contract: curl's call gets OpenFaaS's variables, the body, X-Call-Id and "
    "X-Duration-Seconds") {
  HttpServer s({"sh", "-c", kEnvScript});
  auto r = curl({"-H", "X-Foo-Bar: 1", "-H", "X-Foo-Bar: 2", "-H", "Proxy: http://evil:3128", "-H",
                 "X-Call-Id: abc-123", "--data-binary", "hello", s.url("/some/path?a=1&b=2")});
  INFO(r.out, r.err);
  REQUIRE(exit_code(r.status) == 0);
  CHECK(r.out.starts_with("HTTP/1.1 200 OK\r\n"));
  CHECK(r.out.find("\r\nX-Call-Id: abc-123\r\n") != std::string::npos);
  CHECK(r.out.find("\r\nX-Duration-Seconds: 0.") != std::string::npos);
  CHECK(r.out.find("method=POST\npath=/some/path\nquery=a=1&b=2\nfoo=1, 2\nlen=5\n"
                   "proxy=unset\nid=abc-123\n") != std::string::npos);
  CHECK(r.out.find("deadline=20") != std::string::npos);  // RFC 3339, this century
  CHECK(r.out.ends_with("Z\nhello"));
}

TEST_CASE(
    "http contract: the call id comes from X-Request-Id or traceparent, else hotwrap makes one") {
  HttpServer s({"sh", "-c", "printf %s \"$HOTWRAP_CALL_ID\""});
  Request a = plain("GET", "/");
  a.headers.emplace_back("X-Request-Id", "req-7");
  auto ra = s.call(a);
  CHECK(ra.body == "req-7");
  CHECK(ra.header("X-Call-Id") == "req-7");
  Request b = plain("GET", "/");
  b.headers.emplace_back("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  CHECK(s.call(b).body == "4bf92f3577b34da6a3ce929d0e0e4736");
  Request c = plain("GET", "/");
  c.headers.emplace_back("X-Cloud-Trace-Context", "105445aa7843bc8bf206b12000100000/1;o=1");
  CHECK(s.call(c).body == "105445aa7843bc8bf206b12000100000");
  auto r1 = s.call(plain("GET", "/"));
  auto r2 = s.call(plain("GET", "/"));
  INFO(r1, r2);
  REQUIRE(r1.body.size() == 26);  // ULID-shaped, sortable by time
  CHECK(r1.header("X-Call-Id") == r1.body);
  CHECK(r1.body < r2.body);
}

TEST_CASE("http contract: any method and path runs the command; HEAD gets no body") {
  HttpServer s({"sh", "-c", "printf '%s %s' \"$Http_Method\" \"$Http_Path\""});
  CHECK(s.call(plain("PUT", "/a/b")).body == "PUT /a/b");
  CHECK(s.call(plain("DELETE", "/")).body == "DELETE /");
  CHECK(s.call(plain("OPTIONS", "/x")).body == "OPTIONS /x");
  auto r = curl({"-I", s.url("/h")});
  INFO(r.out);
  CHECK(r.out.starts_with("HTTP/1.1 200 OK\r\n"));
  CHECK(r.out.find("Content-Length: 7\r\n") != std::string::npos);
  CHECK(r.out.ends_with("\r\n\r\n"));
}

TEST_CASE("http contract: exit status 3 is a 500 naming it, with the end of stderr") {
  HttpServer s({"sh", "-c", "echo partial; echo 'jq: parse error' >&2; exit 3"});
  auto r = s.call(plain("POST", "/", "x"));
  INFO(r);
  CHECK(r.status == 500);
  CHECK(r.body.find("exited with status 3") != std::string::npos);
  CHECK(r.body.find("jq: parse error") != std::string::npos);
  CHECK(r.has_header("X-Duration-Seconds"));
  CHECK(r.has_header("X-Call-Id"));
}

TEST_CASE("http contract: a command that cannot run at call time is a 500") {
  TempDir d;
  std::string script = d.write_file("gone.sh", "#!/bin/sh\necho hi\n", 0755);
  HttpServer s({script});
  ::unlink(script.c_str());
  auto r = s.call(plain("POST", "/"));
  INFO(r);
  CHECK(r.status == 500);
  CHECK(r.body.find("hotwrap: ") == 0);
}

TEST_CASE("http contract: the time limit answers 504 and ends a forked child holding stdout") {
  // The watchdogs' exec_timeout waits for the child (3 s); hotwrap ends the process group.
  HttpServer s({"sh", "-c", "echo started; sleep 3; echo never"}, {{"HOTWRAP_TIMEOUT_MS", "1000"}});
  auto t0 = Clock::now();
  auto r = s.call(plain("POST", "/"));
  auto took = std::chrono::duration_cast<Ms>(Clock::now() - t0);
  INFO(r);
  MESSAGE("504 after " << took.count() << " ms");
  CHECK(r.status == 504);
  CHECK(took < 1500ms);
  CHECK(r.body.find("HOTWRAP_TIMEOUT_MS=1000") != std::string::npos);
  CHECK_MESSAGE(wait_until([&] { return s.srv->descendants().empty(); }, 3000ms),
                "processes left: " << s.srv->descendants().size());
}

TEST_CASE("http contract: OpenFaaS's exec_timeout is honoured when HOTWRAP_TIMEOUT_MS is unset") {
  HttpServer s({"sleep", "5"}, {{"exec_timeout", "500ms"}});
  auto r = s.call(plain("POST", "/"));
  CHECK(r.status == 504);
  auto bad = start_error({{"HOTWRAP_CONTRACT", "http"}, {"exec_timeout", "soon"}});
  CHECK(exit_code(bad.status) == 2);
  CHECK(bad.err.find("exec_timeout") != std::string::npos);
  CHECK(bad.err.find("Go duration") != std::string::npos);
}

TEST_CASE("http contract: fprocess is the command when none is given, split on whitespace") {
  HttpServer s({}, {{"fprocess", "tr  a-z   A-Z"}}, false);  // PORT-less: fprocess selects http
  auto r = s.call(plain("POST", "/", "shout"));
  INFO(r, s.srv->stderr_text());
  CHECK(r.status == 200);
  CHECK(r.body == "SHOUT");
}

TEST_CASE("http contract: PORT alone selects it; HOTWRAP_PORT wins over PORT") {
  uint16_t port = free_tcp_port();
  Server::Options o;
  o.argv = {"echo", "ok"};
  o.http_stream_defaults = false;
  o.wait_ready = false;
  o.env = {{"PORT", std::to_string(port)}, {"HOTWRAP_METRICS_PORT", "0"}};
  Server srv(o);
  REQUIRE(wait_tcp_ready(port, 5000ms));
  CHECK(Conn::tcp(port).call(plain("GET", "/")).body == "ok\n");
  auto bad = start_error({{"HOTWRAP_CONTRACT", "http"}, {"PORT", "http"}});
  CHECK(exit_code(bad.status) == 2);
  CHECK(bad.err.find("PORT='http' is not a TCP port") != std::string::npos);
}

TEST_CASE(
    "http contract: keep-alive — Python's http.client makes several calls on one connection") {
  HttpServer s({"sh", "-c", "printf '%s' \"$Http_Path\""});
  std::string py =
      "import http.client,sys\n"
      "c=http.client.HTTPConnection('127.0.0.1'," +
      std::to_string(s.port) +
      ",timeout=10)\n"
      "out=[]\n"
      "for i in range(3):\n"
      "  c.request('POST','/n%d'%i,body=b'x'*i)\n"
      "  r=c.getresponse(); out.append('%d:%s'%(r.status,r.read().decode()))\n"
      "  out.append(str(c.sock is not None))\n"
      "print(' '.join(out))\n";
  auto r = run_client({"python3", "-c", py});
  INFO(r.err);
  CHECK(r.out == "200:/n0 True 200:/n1 True 200:/n2 True\n");
}

TEST_CASE("http contract: health, readiness and the lock file; neither path runs the command") {
  TempDir d;
  std::string marker = d.path() + "/ran";
  HttpServer s({"sh", "-c", "touch " + marker}, {{"HOTWRAP_DRAIN_MS", "2000"}});
  CHECK(file_exists(s.lock_path()));
  auto h = s.call(plain("GET", "/_/health"));
  CHECK(h.status == 200);
  CHECK(h.body == "OK");
  CHECK(s.call(plain("GET", "/_/ready")).status == 200);
  CHECK(s.call(plain("HEAD", "/_/health")).status == 200);
  auto post = s.call(plain("POST", "/_/health"));
  CHECK(post.status == 405);
  CHECK(post.header("Allow") == "GET, HEAD");
  CHECK_FALSE(file_exists(marker));
  s.srv->signal(SIGTERM);
  CHECK(wait_until([&] { return !file_exists(s.lock_path()); }, 2000ms));
  CHECK(s.call(plain("GET", "/_/health")).status == 503);
  CHECK(s.call(plain("GET", "/_/ready")).status == 503);
  // Still serving calls while the platform catches up.
  CHECK(s.call(plain("POST", "/")).status == 200);
  CHECK(file_exists(marker));
  auto st = s.srv->wait_exit(6000ms);
  CHECK(exit_code(st) == 0);
}

TEST_CASE("http contract: a lock file that cannot be written is one log line, not a failure") {
  HttpServer s({"echo", "ok"}, {{"TMPDIR", "/nonexistent/dir"}});
  CHECK(s.call(plain("GET", "/")).body == "ok\n");
  CHECK(s.srv->wait_stderr("cannot write the lock file /nonexistent/dir/.lock", 2000ms));
}

TEST_CASE("http contract: over HOTWRAP_MAX_INFLIGHT a call gets 429 and /_/ready says 429") {
  TempDir d;
  std::string fifo = d.path() + "/go";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  HttpServer s({"sh", "-c", "read line < " + fifo + "; echo released"},
               {{"HOTWRAP_MAX_INFLIGHT", "1"}});
  Conn first = Conn::tcp(s.port);
  REQUIRE(first.send_request(plain("POST", "/")));
  wait_call_running(*s.srv);
  auto busy = s.call(plain("POST", "/"));
  INFO(busy);
  CHECK(busy.status == 429);
  CHECK(busy.body.find("Concurrent request limit exceeded. Max concurrent requests: 1") !=
        std::string::npos);
  CHECK(s.call(plain("GET", "/_/ready")).status == 429);
  CHECK(s.call(plain("GET", "/_/health")).status == 200);
  release(fifo);
  auto done = first.read_response();
  CHECK(done.status == 200);
  CHECK(done.body == "released\n");
  CHECK(wait_until([&] { return s.call(plain("GET", "/_/ready")).status == 200; }, 2000ms));
}

TEST_CASE(
    "http contract: SIGTERM with a call in flight — served on through the drain, then answered, "
    "exit 0") {
  TempDir d;
  std::string fifo = d.path() + "/go";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  HttpServer s(
      {"sh", "-c",
       "if [ \"$Http_Path\" = /slow ]; then read l < " + fifo + "; fi; echo \"done $Http_Path\""},
      {{"HOTWRAP_DRAIN_MS", "1000"}, {"HOTWRAP_SHUTDOWN_GRACE_MS", "5000"}});
  Conn slow = Conn::tcp(s.port);
  REQUIRE(slow.send_request(plain("POST", "/slow")));
  wait_call_running(*s.srv);
  auto t0 = Clock::now();
  s.srv->signal(SIGTERM);
  REQUIRE(wait_until([&] { return s.call(plain("GET", "/_/health")).status == 503; }, 2000ms));
  CHECK(s.call(plain("POST", "/fast")).body == "done /fast\n");  // within the drain
  // After the drain the listener closes: new connections are refused.
  CHECK(wait_until([&] { return ::kill(s.srv->pid(), 0) == 0 && !wait_tcp_ready(s.port, 10ms); },
                   4000ms));
  MESSAGE("listener closed " << std::chrono::duration_cast<Ms>(Clock::now() - t0).count()
                             << " ms after SIGTERM (HOTWRAP_DRAIN_MS=1000)");
  release(fifo);
  auto r = slow.read_response();
  CHECK(r.status == 200);
  CHECK(r.body == "done /slow\n");
  CHECK(exit_code(s.srv->wait_exit(5000ms)) == 0);
}

TEST_CASE("http contract: 429 under load, 12 callers at once, HOTWRAP_MAX_INFLIGHT=3") {
  TempDir d;
  std::string fifo = d.path() + "/go";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  // Each admitted call waits on the FIFO: they all run at the same time.
  HttpServer s({"sh", "-c", "read l < " + fifo + "; echo ok"}, {{"HOTWRAP_MAX_INFLIGHT", "3"}});
  std::vector<Conn> conns;
  for (int i = 0; i < 3; ++i) {
    conns.push_back(Conn::tcp(s.port));
    REQUIRE(conns.back().send_request(plain("POST", "/")));
  }
  REQUIRE(wait_until([&] { return s.srv->children().size() == 3; }, 5000ms));
  std::vector<std::thread> threads;
  std::vector<int> statuses(9, 0);
  for (size_t i = 0; i < statuses.size(); ++i) {
    threads.emplace_back([&, i] { statuses[i] = s.call(plain("POST", "/")).status; });
  }
  for (auto& t : threads) t.join();
  for (int st : statuses) CHECK(st == 429);
  CHECK(s.srv->children().size() == 3);
  // Opened once for writing, the FIFO releases the three readers with one line each.
  int fd = ::open(fifo.c_str(), O_WRONLY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  CHECK(::write(fd, "go\ngo\ngo\n", 9) == 9);
  ::close(fd);
  for (Conn& c : conns) CHECK(c.read_response().status == 200);
  CHECK(s.call(plain("GET", "/_/ready")).status == 200);
}

TEST_CASE("http contract: an idle hotwrap exits within the drain time") {
  HttpServer s({"cat"}, {{"HOTWRAP_DRAIN_MS", "300"}});
  auto t0 = Clock::now();
  s.srv->signal(SIGTERM);
  auto st = s.srv->wait_exit(5000ms);
  auto took = std::chrono::duration_cast<Ms>(Clock::now() - t0);
  MESSAGE("exited " << took.count() << " ms after SIGTERM");
  CHECK(exit_code(st) == 0);
}

TEST_CASE("http contract: a second SIGTERM during the drain stops at once") {
  HttpServer s({"cat"}, {{"HOTWRAP_DRAIN_MS", "60000"}});
  s.srv->signal(SIGTERM);
  REQUIRE(s.srv->wait_stderr("still served for 60000 ms", 2000ms));
  s.srv->signal(SIGTERM);
  CHECK(exit_code(s.srv->wait_exit(3000ms)) == 0);
}

TEST_CASE("http contract: request limits answer 413 / 414 / 431 as http-stream does") {
  HttpServer s({"cat"}, {{"HOTWRAP_MAX_BODY_BYTES", "10"}, {"HOTWRAP_MAX_URL_BYTES", "64"}});
  auto big = s.call(plain("POST", "/", std::string(100, 'x')));
  CHECK(big.status == 413);
  CHECK(big.body.find("HOTWRAP_MAX_BODY_BYTES=10") != std::string::npos);
  CHECK(s.call(plain("GET", "/" + std::string(100, 'a'))).status == 414);
  Request many = plain("GET", "/");
  many.headers.emplace_back("X-Big", std::string(70000, 'h'));
  CHECK(s.call(many).status == 431);
}

TEST_CASE("http contract: IPv6 callers are served on the same port") {
  HttpServer s({"echo", "six"});
  // hotwrap says which families it listens on; IPv4 only when the kernel has no IPv6.
  if (!s.srv->wait_stderr("IPv4 and IPv6", 1000ms)) {
    skip_test("this host has no IPv6");
    return;
  }
  auto r = curl({"-g", "http://[::1]:" + std::to_string(s.port) + "/"});
  INFO(r.out, r.err);
  CHECK(r.out.starts_with("HTTP/1.1 200 OK\r\n"));
  CHECK(r.out.ends_with("six\n"));
}

TEST_CASE("contracts: HOTWRAP_CONTRACT is checked; every contract's command gets HOTWRAP_CALL_ID") {
  auto bad = start_error({{"HOTWRAP_CONTRACT", "grpc"}, {"FN_FORMAT", "http-stream"}});
  CHECK(exit_code(bad.status) == 2);
  CHECK(bad.err.find("expected fn, http, lambda or funker") != std::string::npos);
  // Fn http-stream: the Fn-Call-Id under hotwrap's own name too.
  Server srv({"sh", "-c", "printf '%s %s' \"$HOTWRAP_CALL_ID\" \"$FN_CALL_ID\""});
  Conn c = srv.connect();
  Request req;
  req.headers = {{"Fn-Call-Id", "01FNCALL"}};
  CHECK(c.call(req).body == "01FNCALL 01FNCALL");
}
