// Start-up: command line, command lookup, format selection.
#include "harness.hpp"

#include <doctest/doctest.h>

#include <fstream>
#include <iterator>
#include <regex>

using namespace e2e;

namespace {

void check_exit(const RunResult& r, int code) {
  REQUIRE_MESSAGE(r.status.has_value(), "hotwrap did not exit; stderr: " << printable(r.err));
  INFO("hotwrap " << describe_status(r.status) << "; stderr: " << printable(r.err)
                  << "; stdout: " << printable(r.out));
  CHECK(exit_code(r.status) == code);
}

void check_one_line(const std::string& err) {
  INFO("stderr: " << printable(err));
  CHECK(split_lines(err).size() == 1);
  CHECK(err.ends_with("\n"));
}

}  // namespace

TEST_CASE("start-up: no command is a usage error (exit 2, one line)") {
  RunResult r = run_to_exit(std::vector<std::string>{});
  check_exit(r, 2);
  check_one_line(r.err);
}

TEST_CASE("start-up: only options and -- but no command is a usage error") {
  RunResult r = run_to_exit({"--buffer-bytes=1024", "--"});
  check_exit(r, 2);
  check_one_line(r.err);
}

TEST_CASE("start-up: unknown option exits 2") {
  RunResult r = run_to_exit({"--no-such-option-xyz", "cat"});
  check_exit(r, 2);
  CHECK(r.err.find("no-such-option-xyz") != std::string::npos);
}

TEST_CASE("start-up: command not in PATH exits 127 naming it") {
  RunResult r = run_to_exit({"no-such-cmd-xyz"});
  check_exit(r, 127);
  CHECK(r.err.find("no-such-cmd-xyz") != std::string::npos);
  check_one_line(r.err);
}

TEST_CASE("start-up: command that is not executable exits 126") {
  TempDir tmp;
  std::string path = tmp.write_file("not-executable", "#!/bin/sh\necho hi\n", 0644);
  RunResult r = run_to_exit({path});
  check_exit(r, 126);
  CHECK(r.err.find("not-executable") != std::string::npos);
}

TEST_CASE("start-up: --version prints the version, the commit and the architecture") {
  RunResult r = run_to_exit({"--version"});
  check_exit(r, 0);
  INFO("stdout: " << printable(r.out));
  // The commit is 12 hex digits (with -dirty for an edited tree), or unknown without git.
  static const std::regex kLine(
      R"(hotwrap ([0-9.]+) \(commit ([0-9a-f]{12}(-dirty)?|unknown), linux/(amd64|arm64)\)\n)");
  std::smatch m;
  REQUIRE(std::regex_match(r.out, m, kLine));
  CHECK(m[1] == HOTWRAP_EXPECTED_VERSION);
}

TEST_CASE("start-up: --licenses prints NOTICE") {
  RunResult r = run_to_exit({"--licenses"});
  check_exit(r, 0);
  std::ifstream in(HOTWRAP_NOTICE_FILE);
  REQUIRE(in);
  std::string notice{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  CHECK(r.out == notice);
  for (const char* name : {"Apache License", "glibc", "LGPL 2.1", "libevent", "llhttp",
                           "nlohmann/json", "Relinking"}) {
    CHECK_MESSAGE(r.out.find(name) != std::string::npos, name);
  }
}

TEST_CASE("start-up: --help lists every HOTWRAP_ variable and flag") {
  RunResult r = run_to_exit({"--help"});
  check_exit(r, 0);
  std::string text = r.out + r.err;
  const char* names[][2] = {
      {"HOTWRAP_BUFFER_BYTES", "--buffer-bytes"},
      {"HOTWRAP_KILL_GRACE_MS", "--kill-grace-ms"},
      {"HOTWRAP_DEADLINE_MARGIN_MS", "--deadline-margin-ms"},
      {"HOTWRAP_SHUTDOWN_GRACE_MS", "--shutdown-grace-ms"},
      {"HOTWRAP_LOG_LEVEL", "--log-level"},
      {"HOTWRAP_STDERR_PREFIX", "--stderr-prefix"},
      {"HOTWRAP_CONTENT_TYPE", "--content-type"},
      {"HOTWRAP_MAX_HEADER_BYTES", "--max-header-bytes"},
      {"HOTWRAP_MAX_HEADERS", "--max-headers"},
      {"HOTWRAP_MAX_URL_BYTES", "--max-url-bytes"},
      {"HOTWRAP_MAX_BODY_BYTES", "--max-body-bytes"},
      {"HOTWRAP_MAX_CONNECTIONS", "--max-connections"},
  };
  for (const auto& [var, flag] : names) {
    CAPTURE(var);
    CHECK(text.find(var) != std::string::npos);
    CHECK(text.find(flag) != std::string::npos);
  }
}

TEST_CASE("start-up: unknown FN_FORMAT exits 2 naming the value and the accepted ones") {
  Server::Options o;
  o.argv = {"cat"};
  o.http_stream_defaults = false;
  o.env = {{"FN_FORMAT", "bogus-format"}};
  RunResult r = run_to_exit(std::move(o));
  check_exit(r, 2);
  check_one_line(r.err);
  CHECK(r.err.find("bogus-format") != std::string::npos);
  CHECK(r.err.find("http-stream") != std::string::npos);
}

TEST_CASE("start-up: flags take --name=value and --name value, then -- and the command") {
  std::vector<std::string> argv;
  SUBCASE("--name=value") {
    argv = {"--buffer-bytes=4096", "--", "cat"};
  }
  SUBCASE("--name value") {
    argv = {"--buffer-bytes", "4096", "cat"};
  }
  CAPTURE(argv.size());
  Server srv(argv);
  Conn c = srv.connect();
  Response r = c.call({.body = "x"});
  INFO(r);
  CHECK(r.status == 200);
  CHECK(r.body == "x");
}

TEST_CASE("start-up: a script whose interpreter is missing stops hotwrap, naming it (exit 127)") {
  TempDir tmp;
  struct Case {
    const char* what;
    std::string script;
    const char* says;
    int code;
  };
  const Case cases[] = {
      {"missing interpreter", "#!/no/such/interp\necho hi\n", "the interpreter '/no/such/interp'",
       127},
      {"CR at the end of the #! line", "#!/bin/sh\r\necho hi\r\n", "ends in CR", 127},
      {"CR after an argument", "#!/bin/sh -e\r\necho hi\r\n", "ends in CR", 127},
      {"env with a missing program", "#!/usr/bin/env no-such-prog-xyz\necho hi\n",
       "'no-such-prog-xyz'", 127},
      {"interpreter not executable", "#!" + tmp.path() + "/plain-file\necho hi\n",
       "is not executable", 126},
  };
  tmp.write_file("plain-file", "not a program\n", 0644);
  for (const Case& c : cases) {
    CAPTURE(c.what);
    std::string path = tmp.write_file(
        std::string("script-") + std::to_string(c.code) + std::to_string(c.script.size()), c.script,
        0755);
    RunResult r = run_to_exit({path});
    check_exit(r, c.code);
    CHECK(r.err.find(c.says) != std::string::npos);
    check_one_line(r.err);
  }
  SUBCASE("a working script still starts") {
    std::string path = tmp.write_file("good", "#!/usr/bin/env sh\nexit 0\n", 0755);
    Server srv({path});
    CHECK(srv.pid() > 0);
  }
}

TEST_CASE("start-up: a limit of zero, an overflowing number and a header injection are refused") {
  for (auto [name, value] : {std::pair{"HOTWRAP_MAX_HEADERS", "0"},
                             std::pair{"HOTWRAP_BUFFER_BYTES", "99999999999999999999999"},
                             std::pair{"HOTWRAP_CONTENT_TYPE", "text/plain\nX-Evil: 1"}}) {
    CAPTURE(name);
    Server::Options o;
    o.argv = {"cat"};
    o.env = {{name, value}};
    RunResult r = run_to_exit(o);
    check_exit(r, 2);
    CHECK(r.err.find(name) != std::string::npos);
    check_one_line(r.err);
  }
}

TEST_CASE("start-up: misspelt and foreign variables are warned about, naming the real option") {
  Server srv({"cat"}, {{"HOTWRAP_PRESPAN", "1"}, {"FN_HOTWRAP_VERBOSE", "1"}});
  CHECK(
      srv.wait_stderr("unknown variable HOTWRAP_PRESPAN is ignored; did you mean "
                      "HOTWRAP_PRESPAWN?",
                      2000ms));
  CHECK(srv.wait_stderr("FN_HOTWRAP_VERBOSE is ignored", 2000ms));
}
