// Response status from the command's fate, invoke and trigger paths.
#include "harness.hpp"

#include <doctest/doctest.h>

#include <cstdio>

using namespace e2e;

namespace {

void check_fdk_headers(const Response& r) {
  CHECK(r.header("Fn-Fdk-Version") == "hotwrap/0.1.0");
  CHECK(!r.header("Fn-Fdk-Runtime").value_or("").empty());
}

const std::vector<std::pair<std::string, std::string>> kTrigger = {
    {"Fn-Intent", "httprequest"},
    {"Fn-Http-Method", "POST"},
    {"Fn-Http-Request-Url", "http://localhost:8080/t/app/fn"},
};

}  // namespace

TEST_CASE("status: exit 0 is 200 with stdout, FDK headers and the content type") {
  SUBCASE("default content type") {
    Server srv({"printf", "ok"});
    Conn c = srv.connect();
    Response r = c.call({});
    INFO(r);
    CHECK(r.status == 200);
    CHECK(r.body == "ok");
    CHECK(r.complete);
    CHECK_FALSE(r.chunked);
    CHECK(r.header("Content-Length") == "2");
    CHECK(r.header("Content-Type") == "application/octet-stream");
    check_fdk_headers(r);
  }
  SUBCASE("HOTWRAP_CONTENT_TYPE") {
    Server srv({"printf", "ok"}, {{"HOTWRAP_CONTENT_TYPE", "text/plain; charset=utf-8"}});
    Conn c = srv.connect();
    Response r = c.call({});
    INFO(r);
    CHECK(r.status == 200);
    CHECK(r.header("Content-Type") == "text/plain; charset=utf-8");
  }
}

TEST_CASE("status: failures on the invoke path are 502, and the connection stays usable") {
  std::vector<std::string> cmd;
  SUBCASE("exit 3") {
    cmd = {"sh", "-c", "echo partial; exit 3"};
  }
  SUBCASE("killed by a signal") {
    cmd = {"sh", "-c", "kill -9 $$"};
  }
  SUBCASE("the command cannot be executed any more") {
    // Found at start-up, removed before the call: spawn fails at call time.
    TempDir tmp;
    std::string path = tmp.write_file("vanishing", "#!/bin/sh\necho hi\n", 0755);
    Server srv({path});
    std::remove(path.c_str());
    Conn c = srv.connect();
    Response r = c.call({});
    INFO(r);
    CHECK(r.status == 502);
    check_fdk_headers(r);
    return;
  }
  CAPTURE(cmd.back());
  Server srv(cmd);
  Conn c = srv.connect();
  for (int i = 0; i < 2; ++i) {
    CAPTURE(i);
    Response r = c.call({.body = "in"});
    INFO(r);
    CHECK(r.status == 502);
    CHECK(r.complete);
    CHECK_FALSE(r.closed);
    CHECK(!r.body.empty());        // a text describing the failure
    CHECK(r.body != "partial\n");  // not the command's stdout
    check_fdk_headers(r);
  }
}

TEST_CASE("status: trigger calls are 200 with Fn-Http-Status") {
  SUBCASE("success") {
    Server srv({"printf", "ok"});
    Conn c = srv.connect();
    Response r = c.call({.headers = kTrigger});
    INFO(r);
    CHECK(r.status == 200);
    CHECK(r.header("Fn-Http-Status") == "200");
    CHECK(r.body == "ok");
    check_fdk_headers(r);
  }
  SUBCASE("success, header name in lower case") {
    Server srv({"printf", "ok"});
    Conn c = srv.connect();
    Response r = c.call({.headers = {{"fn-intent", "httprequest"}}});
    INFO(r);
    CHECK(r.status == 200);
    CHECK(r.header("Fn-Http-Status") == "200");
  }
  SUBCASE("failure keeps stdout as the body") {
    Server srv({"sh", "-c", "echo oops; exit 1"});
    Conn c = srv.connect();
    Response r = c.call({.headers = kTrigger});
    INFO(r);
    CHECK(r.status == 200);
    CHECK(r.header("Fn-Http-Status") == "500");
    CHECK(r.body == "oops\n");
    check_fdk_headers(r);
  }
  SUBCASE("killed by a signal") {
    Server srv({"sh", "-c", "echo before; kill -9 $$"});
    Conn c = srv.connect();
    Response r = c.call({.headers = kTrigger});
    INFO(r);
    CHECK(r.status == 200);
    CHECK(r.header("Fn-Http-Status") == "500");
    CHECK(r.body == "before\n");
  }
}

TEST_CASE("status: an invoke call has no Fn-Http-Status") {
  Server srv({"printf", "ok"});
  Conn c = srv.connect();
  Response r = c.call({});
  INFO(r);
  CHECK(r.status == 200);
  CHECK_FALSE(r.has_header("Fn-Http-Status"));
}

TEST_CASE("status: a failed call's answer says why: the end of the command's stderr") {
  const char* script =
      "cat >/dev/null; echo 'reading input' >&2; echo 'parse error: Invalid numeric literal' >&2;"
      " exit 4";
  SUBCASE("by default") {
    Server srv({"sh", "-c", script});
    Conn c = srv.connect();
    Request req{.body = "{oops"};
    Response r = c.call(req);
    INFO(r);
    CHECK(r.status == 502);
    CHECK(r.body ==
          "hotwrap: the command exited with status 4\nthe end of its stderr:\nreading input\n"
          "parse error: Invalid numeric literal\n");
    // And every line it wrote is in the log under the call's id.
    CHECK(
        srv.wait_stderr("[" + req.call_id() + "] parse error: Invalid numeric literal\n", 2000ms));
    CHECK(srv.wait_stderr("[" + req.call_id() + "] reading input\n", 2000ms));
  }
  SUBCASE("HOTWRAP_ERROR_DETAIL=0: the outcome only (stderr that may hold secrets)") {
    Server srv({"sh", "-c", script}, {{"HOTWRAP_ERROR_DETAIL", "0"}});
    Conn c = srv.connect();
    Response r = c.call({.body = "x"});
    INFO(r);
    CHECK(r.status == 502);
    CHECK(r.body == "hotwrap: the command exited with status 4\n");
  }
  SUBCASE("only the last lines, bounded") {
    Server srv({"sh", "-c", "cat >/dev/null; seq 1 500 >&2; exit 1"});
    Conn c = srv.connect();
    Response r = c.call({.body = "x"});
    INFO(r);
    CHECK(r.status == 502);
    CHECK(
        r.body.ends_with("\n481\n482\n483\n484\n485\n486\n487\n488\n489\n490\n491\n492\n493\n"
                         "494\n495\n496\n497\n498\n499\n500\n"));
    CHECK(r.body.find("\n480\n") == std::string::npos);
  }
}
