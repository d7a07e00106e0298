// The metrics endpoint (HOTWRAP_METRICS_PORT): the series after calls of every outcome, checked
// by Prometheus's own tools — promtool on what hotwrap serves, and a real Prometheus server
// scraping hotwrap and answering a PromQL query for the calls just made.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "harness.hpp"

extern char** environ;

using namespace e2e;

namespace {

struct MetricsServer {
  TempDir tmp;  // TMPDIR: the lock file goes here
  uint16_t port = free_tcp_port();
  uint16_t metrics = free_tcp_port();
  std::unique_ptr<Server> srv;

  explicit MetricsServer(std::vector<std::string> argv, EnvList env = {}, bool http = true) {
    Server::Options o;
    o.argv = std::move(argv);
    o.http_stream_defaults = !http;
    o.wait_ready = !http;
    if (http) {
      o.env.emplace_back("HOTWRAP_CONTRACT", "http");
      o.env.emplace_back("HOTWRAP_PORT", std::to_string(port));
    }
    o.env.emplace_back("HOTWRAP_METRICS_PORT", std::to_string(metrics));
    o.env.emplace_back("TMPDIR", tmp.path());
    for (auto& e : env) o.env.push_back(std::move(e));
    srv = std::make_unique<Server>(std::move(o));
    if (http) {
      REQUIRE_MESSAGE(wait_tcp_ready(port, 5000ms), "not listening on " << port << "\n"
                                                                        << srv->stderr_text());
    }
    REQUIRE_MESSAGE(wait_tcp_ready(metrics, 5000ms), "no metrics on " << metrics << "\n"
                                                                      << srv->stderr_text());
  }
  Response call(const std::string& method, const std::string& path) const {
    Conn c = Conn::tcp(port);
    return c.call(request(method, path));
  }
  static Request request(const std::string& method, const std::string& path) {
    Request r;
    r.method = method;
    r.path = path;
    r.framing = Request::Framing::ContentLength;
    r.default_headers = false;
    r.headers = {{"Host", "localhost"}};
    return r;
  }
  Response get(const std::string& method = "GET", const std::string& path = "/metrics") const {
    Conn c = Conn::tcp(metrics);
    return c.call(request(method, path));
  }
  std::string scrape() const {
    Response r = get();
    REQUIRE_MESSAGE(r.status == 200, r);
    return r.body;
  }
};

// The value of the sample `series` (name with its labels, exactly as exposed), or -1.
double sample(const std::string& text, const std::string& series) {
  for (const std::string& line : split_lines(text)) {
    if (line.starts_with(series + " "))
      return std::strtod(line.c_str() + series.size() + 1, nullptr);
  }
  return -1;
}

// Until the sample reaches `want` (the runner counts a call when its ending has been handled,
// which may be just after the answer left).
bool wait_sample(const MetricsServer& s, const std::string& series, double want) {
  return wait_until([&] { return sample(s.scrape(), series) == want; }, 5000ms);
}

const char* kScript =
    "#!/bin/sh\n"
    "case \"$Http_Path\" in\n"
    "  /fail) echo failing >&2; exit 3 ;;\n"
    "  /slow) exec sleep 30 ;;\n"
    "esac\n"
    "cat\n";

bool have(const char* tool) {
  const char* env_path = std::getenv("PATH");
  std::string path = env_path != nullptr ? env_path : "/usr/bin:/bin";
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find(':', start);
    if (end == std::string::npos) end = path.size();
    std::string f = path.substr(start, end - start) + "/" + tool;
    if (::access(f.c_str(), X_OK) == 0) return true;
    start = end + 1;
  }
  return false;
}

}  // namespace

TEST_CASE("metrics: calls of every outcome are counted, with OpenFaaS's http_* series") {
  TempDir d;
  std::string script = d.write_file("f.sh", kScript, 0755);
  MetricsServer s({script}, {{"HOTWRAP_TIMEOUT_MS", "1000"}});

  CHECK(s.call("POST", "/").status == 200);
  CHECK(s.call("POST", "/").status == 200);
  CHECK(s.call("GET", "/").status == 200);
  CHECK(s.call("POST", "/fail").status == 500);
  CHECK(s.call("PUT", "/slow").status == 504);
  auto health = s.call("GET", "/_/health");
  CHECK(health.status == 200);

  // A call in flight, then its caller goes away.
  {
    Conn c = Conn::tcp(s.port);
    REQUIRE(c.send_request(MetricsServer::request("DELETE", "/slow")));
    wait_call_running(*s.srv);
    CHECK(sample(s.scrape(), "http_requests_in_flight") == 1);
  }
  CHECK(wait_sample(s, "hotwrap_calls_total{outcome=\"caller_gone\"}", 1));

  // The command gone: the call cannot be started.
  ::unlink(script.c_str());
  CHECK(s.call("POST", "/").status == 500);
  CHECK(wait_sample(s, "hotwrap_calls_total{outcome=\"not_started\"}", 1));

  std::string m = s.scrape();
  INFO(m);
  CHECK(sample(m, "hotwrap_calls_total{outcome=\"ok\"}") == 3);
  CHECK(sample(m, "hotwrap_calls_total{outcome=\"failed\"}") == 1);
  CHECK(sample(m, "hotwrap_calls_total{outcome=\"timeout\"}") == 1);
  CHECK(sample(m, "hotwrap_calls_total{outcome=\"shut_down\"}") == 0);
  CHECK(sample(m, "hotwrap_spawn_failures_total") == 1);
  CHECK(sample(m, "hotwrap_prespawn_hits_total") == 0);
  CHECK(sample(m, "hotwrap_prespawn_misses_total") == 0);
  CHECK(sample(m, "http_requests_in_flight") == 0);
  // Lower-case methods; the caller that went away as 499; /_/health not counted.
  CHECK(sample(m, "http_requests_total{code=\"200\",method=\"post\"}") == 2);
  CHECK(sample(m, "http_requests_total{code=\"200\",method=\"get\"}") == 1);
  CHECK(sample(m, "http_requests_total{code=\"500\",method=\"post\"}") == 2);
  CHECK(sample(m, "http_requests_total{code=\"504\",method=\"put\"}") == 1);
  CHECK(sample(m, "http_requests_total{code=\"499\",method=\"delete\"}") == 1);
  CHECK(m.find("_/health") == std::string::npos);
  CHECK(sample(m, "http_request_duration_seconds_count{code=\"200\",method=\"post\"}") == 2);
  CHECK(
      sample(m, "http_request_duration_seconds_bucket{code=\"200\",method=\"post\",le=\"+Inf\"}") ==
      2);
  // The 504 came after HOTWRAP_TIMEOUT_MS=1000: not in the 0.5 s bucket, in the 2.5 s one.
  CHECK(sample(m, "http_request_duration_seconds_bucket{code=\"504\",method=\"put\",le=\"0.5\"}") ==
        0);
  CHECK(sample(m, "http_request_duration_seconds_bucket{code=\"504\",method=\"put\",le=\"2.5\"}") ==
        1);
  CHECK(m.find("# TYPE http_request_duration_seconds histogram\n") != std::string::npos);
  CHECK(m.find("# HELP hotwrap_calls_total ") != std::string::npos);
}

TEST_CASE(
    "metrics: the endpoint answers GET and HEAD /metrics as text format 0.0.4, else 404/405") {
  MetricsServer s({"cat"});
  auto r = s.get();
  INFO(r);
  CHECK(r.status == 200);
  CHECK(r.header("Content-Type") == "text/plain; version=0.0.4; charset=utf-8");
  CHECK(r.body.starts_with("# HELP "));
  auto head = s.get("HEAD");
  CHECK(head.status == 200);
  CHECK(head.body.empty());
  CHECK(s.get("GET", "/").status == 404);
  CHECK(s.get("GET", "/metrics/x").status == 404);
  auto post = s.get("POST");
  CHECK(post.status == 405);
  CHECK(post.header("Allow") == "GET, HEAD");
  // No call ran for any of these.
  CHECK(sample(s.scrape(), "hotwrap_calls_total{outcome=\"ok\"}") == 0);
}

TEST_CASE("metrics: prespawn hits and misses") {
  MetricsServer s({"cat"}, {{"HOTWRAP_PRESPAWN", "1"}});
  for (int i = 0; i < 3; ++i) CHECK(s.call("POST", "/").status == 200);
  std::string m = s.scrape();
  INFO(m);
  double hits = sample(m, "hotwrap_prespawn_hits_total");
  double misses = sample(m, "hotwrap_prespawn_misses_total");
  CHECK(hits >= 1);
  CHECK(hits + misses == 3);
}

TEST_CASE("metrics: served in the Fn contract too when HOTWRAP_METRICS_PORT is set") {
  MetricsServer s({"cat"}, {}, false);
  Conn c = s.srv->connect();
  Request req;
  req.body = "hi";
  auto r = c.call(req);
  CHECK(r.status == 200);
  std::string m = s.scrape();
  INFO(m);
  CHECK(sample(m, "hotwrap_calls_total{outcome=\"ok\"}") == 1);
  CHECK(m.find("http_requests_total") == std::string::npos);  // the http contract's own
}

TEST_CASE("metrics: a metrics port that cannot be had stops hotwrap at start-up, naming it") {
  uint16_t taken = free_tcp_port();
  // Something else listens there.
  MetricsServer other({"cat"});
  Server::Options o;
  o.argv = {"cat"};
  o.http_stream_defaults = false;
  o.env = {{"HOTWRAP_CONTRACT", "http"},
           {"HOTWRAP_PORT", std::to_string(taken)},
           {"HOTWRAP_METRICS_PORT", std::to_string(other.port)}};
  auto r = run_to_exit(o);
  INFO(r.err);
  CHECK(exit_code(r.status) == 2);
  CHECK(r.err.find("HOTWRAP_METRICS_PORT=" + std::to_string(other.port)) != std::string::npos);
  CHECK(r.err.find("in use") != std::string::npos);
  // The port calls are served on.
  o.env = {{"HOTWRAP_CONTRACT", "http"},
           {"HOTWRAP_PORT", std::to_string(taken)},
           {"HOTWRAP_METRICS_PORT", std::to_string(taken)}};
  r = run_to_exit(o);
  CHECK(exit_code(r.status) == 2);
  CHECK(r.err.find("is the port calls are served on") != std::string::npos);
}

TEST_CASE("metrics: promtool check metrics accepts what hotwrap serves") {
  if (!have("promtool")) {
    skip_test("promtool is not installed (Debian package prometheus)");
    return;
  }
  TempDir d;
  std::string script = d.write_file("f.sh", kScript, 0755);
  MetricsServer s({script}, {{"HOTWRAP_TIMEOUT_MS", "500"}});
  s.call("POST", "/");
  s.call("GET", "/fail");
  s.call("PATCH", "/slow");
  std::string m = s.scrape();
  auto r = run_client({"promtool", "check", "metrics"}, 15000ms, m);
  INFO(m, r.out, r.err);
  CHECK(exit_code(r.status) == 0);
  CHECK(r.out.empty());  // no lint findings either
  CHECK(r.err.empty());
}

namespace {

// A Prometheus server of its own: a free port, a temporary configuration and storage, stopped
// (SIGTERM, then SIGKILL) at the end.
class Prometheus {
 public:
  explicit Prometheus(uint16_t target) {
    std::string config = dir_.write_file("prometheus.yml",
                                         "global:\n"
                                         "  scrape_interval: 1s\n"
                                         "  scrape_timeout: 500ms\n"
                                         "scrape_configs:\n"
                                         "  - job_name: hotwrap\n"
                                         "    static_configs:\n"
                                         "      - targets: ['127.0.0.1:" +
                                             std::to_string(target) + "']\n");
    std::string log = dir_.path() + "/prometheus.log";
    std::vector<std::string> args = {
        "prometheus", "--config.file=" + config, "--storage.tsdb.path=" + dir_.path() + "/data",
        "--web.listen-address=127.0.0.1:" + std::to_string(port_), "--log.level=warn"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, log.c_str(), O_WRONLY | O_CREAT, 0644);
    posix_spawn_file_actions_adddup2(&fa, STDOUT_FILENO, STDERR_FILENO);
    int err = posix_spawnp(&pid_, "prometheus", &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (err != 0) pid_ = -1;
  }
  ~Prometheus() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    if (!wait_until([&] { return ::waitpid(pid_, nullptr, WNOHANG) == pid_; }, 10000ms)) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  Prometheus(const Prometheus&) = delete;
  Prometheus& operator=(const Prometheus&) = delete;

  bool started() const { return pid_ > 0; }
  uint16_t port() const { return port_; }
  std::string log() const {
    std::string out;
    int fd = ::open((dir_.path() + "/prometheus.log").c_str(), O_RDONLY | O_CLOEXEC);
    char buf[4096];
    ssize_t n;
    while (fd >= 0 && (n = ::read(fd, buf, sizeof buf)) > 0)
      out.append(buf, static_cast<size_t>(n));
    if (fd >= 0) ::close(fd);
    return out;
  }
  // GET `path` on its HTTP API; status 0 when it does not answer.
  Response get(const std::string& path) const {
    if (try_tcp() != 0) return {};
    Conn c = Conn::tcp(port_);
    Request r;
    r.method = "GET";
    r.path = path;
    r.framing = Request::Framing::ContentLength;
    r.default_headers = false;
    r.headers = {{"Host", "127.0.0.1"}};
    return c.call(r, 5000ms);
  }

 private:
  int try_tcp() const { return wait_tcp_ready(port_, 100ms) ? 0 : 1; }
  TempDir dir_;
  uint16_t port_ = free_tcp_port();
  pid_t pid_ = -1;
};

}  // namespace

TEST_CASE("metrics: a real Prometheus scrapes hotwrap and answers PromQL for the calls made") {
  if (!have("prometheus")) {
    skip_test("prometheus is not installed (Debian package prometheus)");
    return;
  }
  MetricsServer s({"cat"});
  Prometheus prom(s.metrics);
  REQUIRE(prom.started());
  REQUIRE_MESSAGE(wait_until([&] { return prom.get("/-/ready").status == 200; }, 30000ms),
                  prom.log());
  for (int i = 0; i < 4; ++i) CHECK(s.call("POST", "/").status == 200);
  CHECK(s.call("GET", "/").status == 200);
  // sum(http_requests_total{method="post",code="200"}) and hotwrap_calls_total{outcome="ok"},
  // once a scrape after the calls is in.
  const std::string posts =
      "/api/v1/query?query=sum%28http_requests_total%7Bmethod%3D%22post%22%2Ccode%3D%22200%22%7D%"
      "29";
  const std::string ok = "/api/v1/query?query=hotwrap_calls_total%7Boutcome%3D%22ok%22%7D";
  Response answer;
  bool seen = wait_until(
      [&] {
        answer = prom.get(posts);
        return answer.status == 200 && answer.body.find(",\"4\"]") != std::string::npos;
      },
      30000ms);
  INFO(answer, prom.log());
  MESSAGE("PromQL answer: " << answer.body);
  CHECK(seen);
  CHECK(answer.body.find("\"status\":\"success\"") != std::string::npos);
  Response calls = prom.get(ok);
  MESSAGE("PromQL answer: " << calls.body);
  CHECK(calls.body.find("\"job\":\"hotwrap\"") != std::string::npos);
  CHECK(calls.body.find(",\"5\"]") != std::string::npos);
  // The target is healthy: every scrape parsed.
  Response up = prom.get("/api/v1/query?query=up");
  CHECK(up.body.find(",\"1\"]") != std::string::npos);
}
