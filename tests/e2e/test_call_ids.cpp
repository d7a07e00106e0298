// Request ids in every contract: the command reads its call's id as HOTWRAP_CALL_ID (the
// platform's, or one hotwrap makes: 26 characters, sortable by time), every line hotwrap writes
// about the call carries it, and so does every line of the command's stderr.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "harness.hpp"
#include "stdio_harness.hpp"
#include "tcp_client.hpp"

namespace {

using namespace std::chrono_literals;
using Ms = std::chrono::milliseconds;
using nlohmann::json;

// Writes a line to stderr, prints its id on stdout, and exits with $1.
const char* kScript =
    "cat >/dev/null; echo to-stderr >&2; echo second-line >&2; printf %s \"$HOTWRAP_CALL_ID\"; "
    "exit \"$1\"";

std::vector<std::string> command(int code) {
  return {"sh", "-c", kScript, "sh", std::to_string(code)};
}

// What a call showed: the id the command saw and hotwrap's stderr once the call is logged.
struct Seen {
  std::string id;  // the command's HOTWRAP_CALL_ID (from its stdout, or the captured log)
  std::string err;
};

// The checks every contract passes: the id is the platform's (or a made one), both stderr lines
// carry it, and (with HOTWRAP_LOG_CALLS=1, or for a failure) so does the summary line.
void check_ids(const Seen& s, const std::string& given) {
  INFO("stderr: " << e2e::printable(s.err, 2000));
  if (!given.empty()) {
    CHECK(s.id == given);
  } else {
    CHECK(s.id.size() == 26);  // hotwrap's own: ULID-shaped
  }
  CHECK(s.err.find("[" + s.id + "] to-stderr\n") != std::string::npos);
  CHECK(s.err.find("[" + s.id + "] second-line\n") != std::string::npos);
  CHECK(s.err.find("call " + s.id + ": ") != std::string::npos);
  // No line of hotwrap's about a call lacks the id.
  for (const std::string& line : e2e::split_lines(s.err)) {
    if (line.starts_with("hotwrap: ") && line.find("the command") != std::string::npos) {
      CHECK(line.find("call " + s.id) != std::string::npos);
    }
  }
}

const e2e::EnvList kLogCalls = {{"HOTWRAP_LOG_CALLS", "1"}};

Seen fn_stream(int code, const std::string& id) {
  e2e::Server srv(command(code), kLogCalls);
  e2e::Conn c = srv.connect();
  e2e::Request req{.body = "x"};
  if (id.empty()) {
    req.omit = {"Fn-Call-Id"};
  } else {
    req.headers.emplace_back("Fn-Call-Id", id);
  }
  e2e::Response r = c.call(req);
  CHECK(r.status == (code == 0 ? 200 : 502));
  srv.wait_stderr(": " + std::to_string(r.status) + ": the command", 3000ms);
  Seen s{.id = code == 0 ? r.body : "", .err = srv.stderr_text()};
  if (code != 0) s.id = r.body.substr(r.body.rfind('\n') + 1);  // the stderr tail ends the body
  return s;
}

Seen fn_json(int code, const std::string& id) {
  stdio_e2e::Options o{.argv = command(code), .env = {{"FN_FORMAT", "json"}}};
  o.env.insert(o.env.end(), kLogCalls.begin(), kLogCalls.end());
  stdio_e2e::Proc p(o);
  json req = {{"body", "x"}, {"content_type", "text/plain"}};
  if (!id.empty()) req["call_id"] = id;
  REQUIRE(p.write(req.dump() + "\n"));
  std::string line = p.next_line().value_or("");
  REQUIRE(!line.empty());
  json r = json::parse(line);
  p.wait_err(": the command", 3000ms);
  Seen s{.id = r["body"].get<std::string>(), .err = p.err()};
  if (code != 0) s.id.clear();
  return s;
}

Seen fn_http(int code, const std::string& id) {
  stdio_e2e::Options o{.argv = command(code), .env = {{"FN_FORMAT", "http"}}};
  o.env.insert(o.env.end(), kLogCalls.begin(), kLogCalls.end());
  stdio_e2e::Proc p(o);
  std::string head = "POST /invoke HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1\r\n";
  if (!id.empty()) head += "Fn_call_id: " + id + "\r\n";
  REQUIRE(p.write(head + "\r\nx"));
  auto r = p.next_http_response().value_or(stdio_e2e::Proc::HttpResponse{});
  REQUIRE(r.status != 0);
  p.wait_err(": the command", 3000ms);
  return {.id = code == 0 ? r.body : "", .err = p.err()};
}

Seen fn_default(int code, const std::string& id) {
  stdio_e2e::Options o{.argv = command(code), .env = {}};
  o.env.insert(o.env.end(), kLogCalls.begin(), kLogCalls.end());
  if (!id.empty()) o.env.emplace_back("FN_CALL_ID", id);
  stdio_e2e::Proc p(o);
  p.close_stdin();
  stdio_e2e::check_exit(p, code);
  return {.id = p.out(), .err = p.err()};
}

Seen http_contract(int code, const std::string& id) {
  uint16_t port = e2e::free_tcp_port();
  e2e::Server::Options so;
  so.argv = command(code);
  so.http_stream_defaults = false;
  so.wait_ready = false;
  so.env = {{"HOTWRAP_CONTRACT", "http"},
            {"HOTWRAP_PORT", std::to_string(port)},
            {"HOTWRAP_METRICS_PORT", "0"},
            {"TMPDIR", "/tmp"},
            {"HOTWRAP_LOG_CALLS", "1"}};
  e2e::Server srv(so);
  REQUIRE(srv.wait_stderr("serving HTTP on port", 5000ms));
  std::string req = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nConnection: close\r\n";
  if (!id.empty()) req += "X-Call-Id: " + id + "\r\n";
  auto a = e2e::tcp::call(port, req + "\r\nx", 10000ms, false);
  REQUIRE(a.eof);
  srv.wait_stderr(": the command", 3000ms);
  std::string body = a.body.substr(a.body.find("\r\n\r\n") + 4);
  return {.id = code == 0 ? body : "", .err = srv.stderr_text()};
}

Seen funker(int code, const std::string&) {
  uint16_t port = e2e::free_tcp_port();
  e2e::Server::Options so;
  so.argv = command(code);
  so.http_stream_defaults = false;
  so.wait_ready = false;
  so.env = {{"HOTWRAP_CONTRACT", "funker"},
            {"HOTWRAP_PORT", std::to_string(port)},
            {"HOTWRAP_LOG_CALLS", "1"}};
  e2e::Server srv(so);
  REQUIRE(srv.wait_stderr("serving funker on port", 5000ms));
  auto a = e2e::tcp::call(port, "{}");
  REQUIRE(a.eof);
  srv.wait_stderr(": the command", 3000ms);
  return {.id = a.body, .err = srv.stderr_text()};
}

// The id of a failed call, which the command could not return: the one on its stderr lines.
std::string id_from_stderr(const std::string& err) {
  auto at = err.find("] to-stderr");
  if (at == std::string::npos) return {};
  auto open = err.rfind('[', at);
  return err.substr(open + 1, at - open - 1);
}

using Contract = Seen (*)(int, const std::string&);

void check_contract(Contract run, bool takes_id) {
  for (int code : {0, 3}) {
    for (bool given : {false, true}) {
      if (given && !takes_id) continue;
      CAPTURE(code);
      CAPTURE(given);
      std::string id = given ? "platform-id-" + std::to_string(code) : "";
      Seen s = run(code, id);
      if (s.id.empty()) s.id = id_from_stderr(s.err);
      check_ids(s, id);
    }
  }
}

}  // namespace

TEST_CASE("call ids: Fn http-stream") {
  check_contract(fn_stream, true);
}
TEST_CASE("call ids: Fn json") {
  check_contract(fn_json, true);
}
TEST_CASE("call ids: Fn http") {
  check_contract(fn_http, true);
}
TEST_CASE("call ids: Fn default") {
  check_contract(fn_default, true);
}
TEST_CASE("call ids: the http contract") {
  check_contract(http_contract, true);
}
TEST_CASE("call ids: funker") {
  check_contract(funker, false);
}

TEST_CASE("call ids: a line hotwrap writes before the call runs carries the id too") {
  e2e::Server srv({"cat"});
  e2e::Conn c = srv.connect();
  e2e::Request req{.body = "x"};
  req.omit = {"Fn-Call-Id"};
  req.headers.emplace_back("Fn-Deadline", "not-a-date");
  e2e::Response r = c.call(req);
  CHECK(r.status == 200);
  REQUIRE(srv.wait_stderr("ignoring Fn-Deadline", 3000ms));
  std::string err = srv.stderr_text();
  INFO(err);
  CHECK(err.find("hotwrap: warn: call ") != std::string::npos);
  CHECK(err.find("hotwrap: warn: ignoring Fn-Deadline") == std::string::npos);
}
