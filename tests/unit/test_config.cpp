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
      {{"cat"}, {{"HOTWRAP_STDERR_PREFIX", "yes"}}, "expected 0 or 1"},
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
