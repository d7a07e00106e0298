// Flags over HOTWRAP_* variables, and the errors for bad values.
#include <doctest/doctest.h>

#include <map>
#include <string>
#include <vector>

#include "app/config.hpp"

using namespace hotwrap;

namespace {
std::map<std::string, std::string> g_env;
const char* fake_getenv(const char* name) {
  auto it = g_env.find(name);
  return it == g_env.end() ? nullptr : it->second.c_str();
}
std::expected<Parsed, std::string> parse(std::vector<const char*> args,
                                         std::map<std::string, std::string> env = {}) {
  g_env = std::move(env);
  args.insert(args.begin(), "hotwrap");
  return parse_config(static_cast<int>(args.size()), args.data(), fake_getenv);
}
}  // namespace

TEST_CASE("defaults and the command") {
  auto p = parse({"rev"});
  REQUIRE(p.has_value());
  CHECK(p->config.command == std::vector<std::string>{"rev"});
  CHECK(p->config.buffer_bytes == 1048576);
  CHECK(p->config.kill_grace.count() == 500);
  CHECK(p->config.deadline_margin.count() == 200);
  CHECK(p->config.log_level == Level::Info);
}

TEST_CASE("the command keeps its own arguments, options included") {
  auto p = parse({"--buffer-bytes=10", "sh", "-c", "echo --help"});
  REQUIRE(p.has_value());
  CHECK(p->config.buffer_bytes == 10);
  CHECK(p->config.command == std::vector<std::string>{"sh", "-c", "echo --help"});
  auto q = parse({"--", "--weird-name"});
  REQUIRE(q.has_value());
  CHECK(q->config.command == std::vector<std::string>{"--weird-name"});
}

TEST_CASE("flags win over environment variables") {
  auto p = parse({"--kill-grace-ms", "50", "cat"},
                 {{"HOTWRAP_KILL_GRACE_MS", "900"}, {"HOTWRAP_BUFFER_BYTES", "7"}});
  REQUIRE(p.has_value());
  CHECK(p->config.kill_grace.count() == 50);
  CHECK(p->config.buffer_bytes == 7);
  auto levels = parse({"--content-type=text/plain", "cat"},
                      {{"HOTWRAP_LOG_LEVEL", "debug"}, {"HOTWRAP_PRESPAWN", "1"}});
  REQUIRE(levels.has_value());
  CHECK(levels->config.log_level == Level::Debug);
  CHECK(levels->config.prespawn);
  CHECK(levels->config.content_type == "text/plain");
  auto q = parse({"--stderr-prefix", "cat"});
  REQUIRE(q.has_value());
  CHECK(q->config.stderr_prefix);
}

TEST_CASE("errors name the option and the fix") {
  struct Row {
    std::vector<const char*> args;
    std::map<std::string, std::string> env;
    const char* says;
  };
  const Row rows[] = {
      {{}, {}, "no command to run"},
      {{"--bogus", "cat"}, {}, "unknown option '--bogus'"},
      {{"-x", "cat"}, {}, "unknown option '-x'"},
      {{"--buffer-bytes"}, {}, "needs a value"},
      {{"--buffer-bytes=ten", "cat"},
       {},
       "invalid value 'ten' for --buffer-bytes / HOTWRAP_BUFFER_BYTES"},
      {{"cat"}, {{"HOTWRAP_LOG_LEVEL", "loud"}}, "expected debug, info, warn or error"},
      {{"cat"}, {{"HOTWRAP_STDERR_PREFIX", "maybe"}}, "expected 1/0, true/false, yes/no or on/off"},
      {{"cat"},
       {{"HOTWRAP_BUFFER_BYTES", "99999999999999999999999"}},
       "too large (max 18446744073709551615)"},
      {{"cat"}, {{"HOTWRAP_KILL_GRACE_MS", "86400001"}}, "too large (max 86400000)"},
      {{"cat"}, {{"HOTWRAP_MAX_HEADERS", "0"}}, "HOTWRAP_MAX_HEADERS: must be at least 1"},
      {{"cat"}, {{"HOTWRAP_MAX_CONNECTIONS", "0"}}, "must be at least 1"},
      {{"cat"}, {{"HOTWRAP_MAX_URL_BYTES", "0"}}, "must be at least 1"},
      {{"cat"}, {{"HOTWRAP_MAX_HEADER_BYTES", "0"}}, "must be at least 1"},
      {{"cat"}, {{"HOTWRAP_TIMEOUT_MS", "-1"}}, "expected a whole number of milliseconds"},
      {{"cat"},
       {{"HOTWRAP_CONTENT_TYPE", "text/plain\r\nX-Evil: 1"}},
       "invalid value 'text/plain\\x0d\\x0aX-Evil: 1' for --content-type / HOTWRAP_CONTENT_TYPE: "
       "a header value cannot hold CR, LF or other control bytes"},
  };
  for (const Row& r : rows) {
    CAPTURE(r.says);
    auto p = parse(r.args, r.env);
    REQUIRE_FALSE(p.has_value());
    CHECK(p.error().find(r.says) != std::string::npos);
  }
}

TEST_CASE("help lists every variable") {
  std::string h = help_text();
  for (const char* v : {"HOTWRAP_BUFFER_BYTES", "HOTWRAP_KILL_GRACE_MS",
                        "HOTWRAP_DEADLINE_MARGIN_MS", "HOTWRAP_SHUTDOWN_GRACE_MS",
                        "HOTWRAP_LOG_LEVEL", "HOTWRAP_STDERR_PREFIX", "HOTWRAP_CONTENT_TYPE",
                        "HOTWRAP_MAX_HEADER_BYTES", "HOTWRAP_MAX_HEADERS", "HOTWRAP_MAX_URL_BYTES",
                        "HOTWRAP_MAX_BODY_BYTES", "HOTWRAP_MAX_CONNECTIONS", "HOTWRAP_PRESPAWN"}) {
    CHECK(h.find(v) != std::string::npos);
  }
  CHECK(parse({"--help"})->action == Action::Help);
  CHECK(parse({"--version"})->action == Action::Version);
}

TEST_CASE("switches, levels and zero") {
  for (const char* on : {"1", "true", "TRUE", "yes", "On"}) {
    CAPTURE(on);
    CHECK(parse({"cat"}, {{"HOTWRAP_PRESPAWN", on}})->config.prespawn);
  }
  for (const char* off : {"0", "false", "No", "off"}) {
    CAPTURE(off);
    CHECK_FALSE(parse({"cat"}, {{"HOTWRAP_PRESPAWN", off}})->config.prespawn);
  }
  CHECK(parse({"cat"}, {{"HOTWRAP_LOG_LEVEL", "DEBUG"}})->config.log_level == Level::Debug);
  CHECK(parse({"cat"}, {{"HOTWRAP_LOG_LEVEL", "Warn"}})->config.log_level == Level::Warn);
  CHECK(parse({"cat"}, {{"HOTWRAP_BUFFER_BYTES", "0"}})->config.buffer_bytes == 0);
  CHECK(parse({"cat"}, {{"HOTWRAP_TIMEOUT_MS", "0"}})->config.timeout.count() == 0);
  CHECK(parse({"cat"})->config.timeout.count() == 3600000);
}

TEST_CASE("a switch flag takes a switch word only when a command follows it") {
  auto p = parse({"--prespawn", "1", "rev"});
  REQUIRE(p);
  CHECK(p->config.prespawn);
  CHECK(p->config.command == std::vector<std::string>{"rev"});
  auto off = parse({"--prespawn", "off", "rev"});
  CHECK_FALSE(off->config.prespawn);
  auto cmd = parse({"--prespawn", "true"});  // the command is `true`
  CHECK(cmd->config.prespawn);
  CHECK(cmd->config.command == std::vector<std::string>{"true"});
}

TEST_CASE("variables meant for hotwrap that it does not read are warned about") {
  const char* env[] = {"HOTWRAP_PRESPAN=1",  "FN_HOTWRAP_VERBOSE=1",
                       "HOTWRAP_PRESPAWN=1", "HOTWRAP_CALL_ID=x",
                       "PATH=/bin",          nullptr};
  auto w = config_warnings(env);
  REQUIRE(w.size() == 2);
  CHECK(w[0] ==
        "unknown variable HOTWRAP_PRESPAN is ignored; did you mean HOTWRAP_PRESPAWN? (hotwrap "
        "--help lists them all)");
  CHECK(w[1] ==
        "FN_HOTWRAP_VERBOSE is ignored: it is fnproject/hotwrap's switch; here: "
        "HOTWRAP_LOG_LEVEL=debug");
}

TEST_CASE("contract, port, in-flight limit, drain and metrics port") {
  auto p = parse({"--contract=HTTP", "--port", "9000", "--max-inflight=4", "cat"},
                 {{"HOTWRAP_DRAIN_MS", "250"}, {"HOTWRAP_METRICS_PORT", "0"}});
  REQUIRE(p.has_value());
  CHECK(p->config.contract == "http");
  CHECK(p->config.port == 9000);
  CHECK(p->config.max_inflight == 4);
  CHECK(p->config.drain.count() == 250);
  CHECK(p->config.metrics_port == 0);
  CHECK(parse({"cat"})->config.metrics_port == -1);  // the contract's default
  auto bad = parse({"--contract=grpc", "cat"});
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.error().find("expected fn, http, lambda or funker") != std::string::npos);
  auto port = parse({"--port=70000", "cat"});
  REQUIRE_FALSE(port.has_value());
  CHECK(port.error().find("too large (max 65535)") != std::string::npos);
  CHECK_FALSE(parse({"--port=0", "cat"}).has_value());
}

TEST_CASE("OpenFaaS's watchdog settings count where hotwrap's own are unset") {
  auto p = parse({"cat"}, {{"exec_timeout", "1m30s"},
                           {"max_inflight", "8"},
                           {"write_timeout", "10"},
                           {"healthcheck_interval", "1.5s"}});
  REQUIRE(p.has_value());
  CHECK(p->config.timeout.count() == 90000);
  CHECK(p->config.max_inflight == 8);
  CHECK(p->config.shutdown_grace.count() == 10000);
  CHECK(p->config.drain.count() == 1500);
  auto ours = parse({"cat"}, {{"exec_timeout", "30s"}, {"HOTWRAP_TIMEOUT_MS", "700"}});
  REQUIRE(ours.has_value());
  CHECK(ours->config.timeout.count() == 700);
  for (const char* d : {"500ms", "2h", "0", "1h2m3s", "100us"}) {
    CHECK_MESSAGE(parse({"cat"}, {{"exec_timeout", d}}).has_value(), d);
  }
  CHECK(parse({"cat"}, {{"exec_timeout", "100us"}})->config.timeout.count() == 0);
  for (const char* d : {"soon", "5x", "-1s", "s", "1.s5", "48h"}) {
    auto bad = parse({"cat"}, {{"exec_timeout", d}});
    REQUIRE_FALSE_MESSAGE(bad.has_value(), d);
    CHECK(bad.error().find("exec_timeout") != std::string::npos);
  }
}

TEST_CASE("fprocess (function_process wins) is the command when none is given") {
  auto p = parse({}, {{"fprocess", "  tr a-z  A-Z "}});
  REQUIRE(p.has_value());
  CHECK(p->config.command == std::vector<std::string>{"tr", "a-z", "A-Z"});
  auto q = parse({}, {{"fprocess", "cat"}, {"function_process", "rev -"}});
  REQUIRE(q.has_value());
  CHECK(q->config.command == std::vector<std::string>{"rev", "-"});
  auto argv = parse({"wc"}, {{"fprocess", "cat"}});
  REQUIRE(argv.has_value());
  CHECK(argv->config.command == std::vector<std::string>{"wc"});
  auto none = parse({}, {{"fprocess", "   "}});
  REQUIRE_FALSE(none.has_value());
  CHECK(none.error().find("fprocess") != std::string::npos);
}

TEST_CASE("CMD [\"fwatchdog\"] of an OpenFaaS template image means fprocess") {
  auto p = parse({"fwatchdog"}, {{"fprocess", "cat"}});
  REQUIRE(p.has_value());
  CHECK(p->config.command == std::vector<std::string>{"cat"});
  auto q = parse({"/usr/bin/fwatchdog"}, {{"fprocess", "rev"}});
  CHECK(q->config.command == std::vector<std::string>{"rev"});
  auto r = parse({"fwatchdog", "-run-healthcheck"}, {{"fprocess", "rev"}});
  CHECK(r->config.command.size() == 2);  // not the watchdog's plain CMD: run as given
}
