// JSON logs (HOTWRAP_LOG_FORMAT=json): every line hotwrap writes is one JSON object, its own lines
// and the command's stderr lines alike, with the call id in a field and, in the http contract,
// the request's trace as Cloud Logging's `logging.googleapis.com/trace`.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "harness.hpp"

using namespace e2e;
using nlohmann::json;

namespace {

// Every line of `text` parsed; a line that is not one JSON object fails the test.
std::vector<json> parse_lines(const std::string& text) {
  std::vector<json> out;
  for (const std::string& line : split_lines(text)) {
    if (line.empty()) continue;
    json j = json::parse(line, nullptr, false);
    CHECK_MESSAGE(j.is_object(), "not a JSON object: " << printable(line));
    if (j.is_object()) out.push_back(std::move(j));
  }
  return out;
}

// The first line whose message contains `needle`; null if none.
json find_line(const std::vector<json>& lines, const std::string& needle) {
  for (const json& j : lines) {
    if (j.value("message", "").find(needle) != std::string::npos) return j;
  }
  return nullptr;
}

const char* kCommand =
    "printf 'a \"quoted\" line\\tand a tab\\n' >&2; printf 'bad \\377\\376 bytes\\n' >&2; "
    "printf 'no newline' >&2; cat";

struct HttpJsonServer {
  TempDir tmp;
  uint16_t port = free_tcp_port();
  std::unique_ptr<Server> srv;

  explicit HttpJsonServer(EnvList env) {
    Server::Options o;
    o.argv = {"sh", "-c", kCommand};
    o.http_stream_defaults = false;
    o.wait_ready = false;
    o.env = {{"HOTWRAP_CONTRACT", "http"},  {"HOTWRAP_PORT", std::to_string(port)},
             {"HOTWRAP_METRICS_PORT", "0"}, {"HOTWRAP_LOG_FORMAT", "json"},
             {"HOTWRAP_LOG_CALLS", "1"},    {"TMPDIR", tmp.path()}};
    o.unset = {"GOOGLE_CLOUD_PROJECT"};  // only what the test sets
    for (auto& e : env) {
      if (e.first == "GOOGLE_CLOUD_PROJECT") o.unset.clear();
      o.env.push_back(std::move(e));
    }
    srv = std::make_unique<Server>(std::move(o));
    REQUIRE_MESSAGE(wait_tcp_ready(port, 5000ms), srv->stderr_text());
  }
  Response call(std::vector<std::pair<std::string, std::string>> headers) const {
    Request r;
    r.method = "POST";
    r.path = "/";
    r.body = "hi";
    r.framing = Request::Framing::ContentLength;
    r.default_headers = false;
    r.headers = {{"Host", "localhost"}};
    for (auto& h : headers) r.headers.push_back(std::move(h));
    Conn c = Conn::tcp(port);
    return c.call(r);
  }
};

}  // namespace

TEST_CASE("json logs: http contract, hotwrap's lines and the command's, with the call's trace") {
  HttpJsonServer s(EnvList{{"HOTWRAP_TRACE_PROJECT", "my-project"}});
  auto r = s.call({{"X-Call-Id", "call-1"},
                   {"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}});
  CHECK(r.status == 200);
  REQUIRE(s.srv->wait_stderr("the command exited with status 0", 5000ms));
  std::string err = s.srv->stderr_text();
  INFO(printable(err, 4000));
  auto lines = parse_lines(err);
  const std::string trace = "projects/my-project/traces/4bf92f3577b34da6a3ce929d0e0e4736";

  json serving = find_line(lines, "serving HTTP on port");
  REQUIRE(serving.is_object());
  CHECK(serving["severity"] == "INFO");
  CHECK(serving["source"] == "hotwrap");
  CHECK_FALSE(serving.contains("call_id"));
  std::string time = serving["time"];
  CHECK(time.size() == 24);
  CHECK(time.ends_with("Z"));

  json quoted = find_line(lines, "quoted");
  REQUIRE(quoted.is_object());
  CHECK(quoted["message"] == "a \"quoted\" line\tand a tab");
  CHECK(quoted["severity"] == "DEFAULT");
  CHECK(quoted["source"] == "command");
  CHECK(quoted["call_id"] == "call-1");
  CHECK(quoted["logging.googleapis.com/trace"] == trace);

  json bad = find_line(lines, "bytes");
  REQUIRE(bad.is_object());
  CHECK(bad["message"] == "bad \xef\xbf\xbd\xef\xbf\xbd bytes");

  json last = find_line(lines, "no newline");
  REQUIRE(last.is_object());
  CHECK(last["message"] == "no newline");

  json summary = find_line(lines, "the command exited with status 0");
  REQUIRE(summary.is_object());
  CHECK(summary["severity"] == "INFO");
  CHECK(summary["call_id"] == "call-1");
  CHECK(summary["logging.googleapis.com/trace"] == trace);
  CHECK(summary["message"].get<std::string>().starts_with("200: "));
  // Nothing in the old text format, no "[call-1] " prefix.
  CHECK(err.find("hotwrap: info:") == std::string::npos);
  CHECK(err.find("[call-1]") == std::string::npos);
}

TEST_CASE("json logs: GOOGLE_CLOUD_PROJECT and X-Cloud-Trace-Context; no project, no trace") {
  {
    HttpJsonServer s(EnvList{{"GOOGLE_CLOUD_PROJECT", "g-project"}});
    s.call(
        {{"X-Call-Id", "c2"}, {"X-Cloud-Trace-Context", "105445aa7843bc8bf206b12000100000/1;o=1"}});
    REQUIRE(s.srv->wait_stderr("the command exited", 5000ms));
    auto lines = parse_lines(s.srv->stderr_text());
    json quoted = find_line(lines, "quoted");
    REQUIRE(quoted.is_object());
    CHECK(quoted["logging.googleapis.com/trace"] ==
          "projects/g-project/traces/105445aa7843bc8bf206b12000100000");
  }
  HttpJsonServer s(EnvList{});
  s.call({{"X-Call-Id", "c3"},
          {"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}});
  REQUIRE(s.srv->wait_stderr("the command exited", 5000ms));
  auto lines = parse_lines(s.srv->stderr_text());
  json quoted = find_line(lines, "quoted");
  REQUIRE(quoted.is_object());
  CHECK(quoted["call_id"] == "c3");
  CHECK_FALSE(quoted.contains("logging.googleapis.com/trace"));
}

TEST_CASE("json logs: the Fn contract's lines are JSON too, a failed call's summary a WARNING") {
  Server srv({"sh", "-c", "echo oops >&2; exit 3"}, {{"HOTWRAP_LOG_FORMAT", "json"}});
  Conn c = srv.connect();
  Request req;
  req.headers = {{"Fn-Call-Id", "fn-call-7"}};
  auto r = c.call(req);
  CHECK(r.status == 502);
  REQUIRE(srv.wait_stderr("exited with status 3", 5000ms));
  std::string err = srv.stderr_text();
  INFO(printable(err, 4000));
  auto lines = parse_lines(err);
  json oops = find_line(lines, "oops");
  REQUIRE(oops.is_object());
  CHECK(oops["call_id"] == "fn-call-7");
  CHECK(oops["source"] == "command");
  json summary = find_line(lines, "exited with status 3");
  REQUIRE(summary.is_object());
  CHECK(summary["severity"] == "WARNING");
  CHECK(summary["call_id"] == "fn-call-7");
  CHECK(summary["message"].get<std::string>().starts_with("502: "));
  CHECK_FALSE(summary.contains("logging.googleapis.com/trace"));
}

TEST_CASE("json logs: a start-up error in the configuration names the variable") {
  Server::Options o;
  o.argv = {"cat"};
  o.env = {{"HOTWRAP_LOG_FORMAT", "yaml"}};
  auto r = run_to_exit(o);
  CHECK(exit_code(r.status) == 2);
  CHECK(r.err.find("HOTWRAP_LOG_FORMAT") != std::string::npos);
  CHECK(r.err.find("expected text or json") != std::string::npos);
}
