// CGI mode (HOTWRAP_CGI=1): the command's own status and headers through Fn http-stream (invoke
// and trigger calls) and the legacy json and http formats, the CGI request variables, and the
// example cgi-bin script of examples/cgi.
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <nlohmann/json.hpp>

#include "harness.hpp"
#include "stdio_harness.hpp"

using namespace e2e;

namespace {

const std::string kScript = HOTWRAP_SOURCE_DIR "/examples/cgi/cgi.sh";
const EnvList kCgi = {{"HOTWRAP_CGI", "1"}};

// A trigger call as the Fn gateway makes it of `GET <url>`.
Request trigger(std::string method, std::string url, std::string body = {}) {
  return {.headers = {{"Fn-Intent", "httprequest"},
                      {"Fn-Http-Method", std::move(method)},
                      {"Fn-Http-Request-Url", std::move(url)}},
          .body = std::move(body)};
}

// hotwrap in the http contract with HOTWRAP_CGI=1, running `argv`, ready on `port`.
std::unique_ptr<Server> http_cgi_server(std::vector<std::string> argv, uint16_t port,
                                        const TempDir& tmp) {
  Server::Options o;
  o.argv = std::move(argv);
  o.http_stream_defaults = false;
  o.wait_ready = false;
  o.env = {{"HOTWRAP_CONTRACT", "http"},
           {"HOTWRAP_PORT", std::to_string(port)},
           {"HOTWRAP_METRICS_PORT", "0"},
           {"TMPDIR", tmp.path()},  // the contract's lock file
           {"HOTWRAP_CGI", "1"}};
  auto srv = std::make_unique<Server>(std::move(o));
  REQUIRE_MESSAGE(wait_tcp_ready(port, 5000ms), srv->stderr_text());
  return srv;
}

// A GET as curl sends it: no body, only a Host header.
Request plain_get(std::string path, uint16_t port) {
  Request r{.method = "GET", .path = std::move(path)};
  r.framing = Request::Framing::None;
  r.default_headers = false;
  r.headers = {{"Host", "localhost:" + std::to_string(port)}};
  return r;
}

}  // namespace

TEST_CASE("cgi: a trigger call gets the script's status and headers through Fn-Http-*") {
  Server srv({kScript}, kCgi);
  Conn c = srv.connect();
  SUBCASE("Status: 404 → Fn-Http-Status: 404, its Content-Type plain") {
    Response r = c.call(trigger("GET", "http://localhost:8080/t/app/cgi/missing"));
    INFO(r);
    CHECK(r.status == 200);  // the container's own: the call succeeded
    CHECK(r.header("Fn-Http-Status") == "404");
    CHECK(r.header("Content-Type") == "text/plain; charset=utf-8");
    CHECK(r.body == "nothing at /t/app/cgi/missing\n");
    CHECK(r.header("Fn-Fdk-Version") == "hotwrap/0.1.0");
  }
  SUBCASE("a Location without a Status is a 302") {
    Response r = c.call(trigger("GET", "http://localhost:8080/t/app/cgi/old"));
    INFO(r);
    CHECK(r.status == 200);
    CHECK(r.header("Fn-Http-Status") == "302");
    CHECK(r.header("Fn-Http-H-Location") == "https://example.com/new");
    CHECK(r.body.empty());
  }
  SUBCASE("JSON with its own Content-Type, the request in the CGI variables") {
    Response r = c.call(trigger("POST", "http://localhost:8080/t/app/cgi?x=1&y=%22", "hello"));
    INFO(r);
    CHECK(r.header("Fn-Http-Status") == "200");
    CHECK(r.header("Content-Type") == "application/json");
    CHECK(r.header("Fn-Http-H-Cache-Control") == "no-store");
    CHECK(r.body == "{\"method\":\"POST\",\"query\":\"x=1&y=%22\",\"bytes\":5}\n");
  }
}

TEST_CASE("cgi: an invoke call gets the same headers in a 200, unless the command failed") {
  SUBCASE("success") {
    Server srv({"sh", "-c", "printf 'Status: 201 Created\\r\\nX-Id: 7\\r\\n\\r\\nmade'"}, kCgi);
    Conn c = srv.connect();
    Response r = c.call({.body = "x"});
    INFO(r);
    CHECK(r.status == 200);
    CHECK(r.header("Fn-Http-Status") == "201");
    CHECK(r.header("Fn-Http-H-X-Id") == "7");
    CHECK(r.header("Content-Type") == "application/octet-stream");  // none in the head
    CHECK(r.header("Content-Length") == "4");
    CHECK(r.body == "made");
  }
  SUBCASE("the exit status counts: a CGI status with a non-zero exit is a failure") {
    Server srv({"sh", "-c", "printf 'Status: 200\\n\\nfine'; echo oops >&2; exit 3"}, kCgi);
    Conn c = srv.connect();
    Response r = c.call({});
    INFO(r);
    CHECK(r.status == 502);
    CHECK(r.body.find("exited with status 3") != std::string::npos);
    CHECK_FALSE(r.has_header("Fn-Http-Status"));
    Response t = c.call(trigger("GET", "http://h/t/a/f"));
    INFO(t);
    CHECK(t.status == 200);
    CHECK(t.header("Fn-Http-Status") == "500");
    CHECK(t.body == "fine");  // what the command printed, after its head
  }
}

TEST_CASE("cgi: a broken header block is the command's failure, with the reason") {
  Server srv({"sh", "-c", "printf 'Status: 404\\nnot a header\\n\\nbody'"}, kCgi);
  Conn c = srv.connect();
  Response r = c.call({});
  INFO(r);
  CHECK(r.status == 502);
  CHECK(
      r.body.starts_with("hotwrap: the command wrote a broken CGI header block: line 2 has no "
                         "':' after a header name\n"));
  Response t = c.call(trigger("GET", "http://h/t/a/f"));
  INFO(t);
  CHECK(t.header("Fn-Http-Status") == "500");
  CHECK(t.body ==
        "hotwrap: the command wrote a broken CGI header block: line 2 has no ':' after a header "
        "name\n");
  CHECK(srv.wait_stderr("502: the command wrote a broken CGI header block", 5000ms));
}

TEST_CASE("cgi: output that does not begin with a header line is the body, whole") {
  Server srv({"rev"}, kCgi);
  Conn c = srv.connect();
  Response r = c.call({.body = "Status: 404\n\n"});
  INFO(r);
  CHECK(r.status == 200);
  CHECK(r.body == "404 :sutatS\n\n");
  CHECK_FALSE(r.has_header("Fn-Http-Status"));
}

TEST_CASE("cgi: past the buffer the body streams with the head's status") {
  Server srv({"sh", "-c", "printf 'Status: 206\\nX-Part: 1\\n\\n'; seq 1 20000"},
             {{"HOTWRAP_CGI", "1"}, {"HOTWRAP_BUFFER_BYTES", "0"}});
  Conn c = srv.connect();
  Response r = c.call(trigger("GET", "http://h/t/a/f"));
  INFO(r.status);
  CHECK(r.status == 200);
  CHECK(r.chunked);
  CHECK(r.complete);
  CHECK(r.header("Fn-Http-Status") == "206");
  CHECK(r.header("Fn-Http-H-X-Part") == "1");
  CHECK(r.body.starts_with("1\n2\n3\n"));
  CHECK(r.body.ends_with("\n20000\n"));
}

TEST_CASE("cgi: the request variables, from a trigger call") {
  Server srv({"sh", "-c",
              "cat >/dev/null; printf 'Content-Type: text/plain\\n\\n'; "
              "env | grep -E '^(GATEWAY_INTERFACE|REQUEST_|QUERY_STRING|PATH_INFO|SCRIPT_NAME|"
              "CONTENT_|SERVER_|HTTP_)' | sort"},
             kCgi);
  Conn c = srv.connect();
  Request req = trigger("PUT", "http://gw.example:8080/t/app/fn/a%20b?q=1");
  req.headers.push_back({"Fn-Http-H-Accept", "text/html"});
  req.headers.push_back({"Fn-Http-H-Proxy", "http://evil.example:3128"});
  req.headers.push_back({"Fn-Http-H-Authorization", "Bearer secret"});
  req.headers.push_back({"Content-Type", "text/csv"});
  req.framing = Request::Framing::ContentLength;
  req.body = "a,b\n";
  Response r = c.call(req);
  INFO(r);
  CHECK(r.header("Fn-Http-Status") == "200");
  CHECK(r.body ==
        "CONTENT_LENGTH=4\n"
        "CONTENT_TYPE=text/csv\n"
        "GATEWAY_INTERFACE=CGI/1.1\n"
        "HTTP_ACCEPT=text/html\n"
        "HTTP_AUTHORIZATION=Bearer secret\n"
        "HTTP_HOST=gw.example:8080\n"
        "PATH_INFO=/t/app/fn/a b\n"
        "QUERY_STRING=q=1\n"
        "REQUEST_METHOD=PUT\n"
        "REQUEST_URI=/t/app/fn/a%20b?q=1\n"
        "SCRIPT_NAME=\n"
        "SERVER_NAME=gw.example\n"
        "SERVER_PORT=8080\n"
        "SERVER_PROTOCOL=HTTP/1.1\n"
        "SERVER_SOFTWARE=hotwrap/0.1.0\n");
}

TEST_CASE("cgi: off by default, the same output is the body") {
  Server srv({"sh", "-c", "printf 'Status: 404\\n\\nx'; env | grep -c '^GATEWAY_INTERFACE=' || :"});
  Conn c = srv.connect();
  Response r = c.call({});
  INFO(r);
  CHECK(r.status == 200);
  CHECK(r.body == "Status: 404\n\nx0\n");
}

namespace {
stdio_e2e::Options legacy(const char* format, std::vector<std::string> argv) {
  return {.argv = std::move(argv), .env = {{"FN_FORMAT", format}, {"HOTWRAP_CGI", "1"}}};
}

stdio_e2e::Proc::HttpResponse next(stdio_e2e::Proc& p) {
  if (auto r = p.next_http_response()) return *r;
  FAIL("no response; stderr: " << printable(p.err()));
  return {};  // not reached: FAIL ends the test
}

// One GET in Fn's legacy json format with a 4-byte body: its answer frame, parsed.
nlohmann::json json_call(stdio_e2e::Proc& p, const std::string& url, nlohmann::json headers) {
  nlohmann::json req = {{"call_id", "c1"},
                        {"deadline", stdio_e2e::deadline_in(60000ms)},
                        {"body", "four"},
                        {"content_type", "text/plain"},
                        {"protocol",
                         {{"type", "http"},
                          {"method", "GET"},
                          {"request_url", url},
                          {"headers", std::move(headers)}}}};
  REQUIRE(p.write(req.dump() + "\n"));
  auto line = p.next_line();
  REQUIRE_MESSAGE(line, printable(p.err()));
  return nlohmann::json::parse(line.value_or("{}"));
}
}  // namespace

TEST_CASE("cgi: Fn's legacy json format carries the head as status_code, headers, content_type") {
  using nlohmann::json;
  stdio_e2e::Proc p(legacy("json", {kScript}));
  json missing = json_call(p, "http://localhost:8080/r/app/cgi/missing", json::object());
  CHECK(missing["protocol"]["status_code"] == 404);
  CHECK(missing["content_type"] == "text/plain; charset=utf-8");
  CHECK(missing["body"] == "nothing at /r/app/cgi/missing\n");
  json old = json_call(p, "http://localhost:8080/r/app/cgi/old", json::object());
  CHECK(old["protocol"]["status_code"] == 302);
  CHECK(old["protocol"]["headers"]["Location"] == json::array({"https://example.com/new"}));
  // A trigger call's method and URL are the caller's, in the Fn-Http-* headers.
  json index = json_call(p, "http://localhost:8080/invoke/01FN",
                         {{"Fn-Intent", {"httprequest"}},
                          {"Fn-Http-Method", {"DELETE"}},
                          {"Fn-Http-Request-Url", {"http://gw/t/app/cgi?z=9"}}});
  CHECK(index["protocol"]["status_code"] == 200);
  CHECK(index["protocol"]["headers"]["Fn-Http-Status"] == json::array({"200"}));
  CHECK(index["protocol"]["headers"]["Cache-Control"] == json::array({"no-store"}));
  CHECK(index["content_type"] == "application/json");
  CHECK(index["body"] == "{\"method\":\"DELETE\",\"query\":\"z=9\",\"bytes\":4}\n");
}

TEST_CASE("cgi: a json call's Host with a control byte does not reach SERVER_NAME") {
  // A json frame's headers come as JSON strings, which may hold any byte; no HTTP parser has
  // refused them. Such a Host is ignored: the variable must not carry a CR (or stop at a NUL).
  using nlohmann::json;
  stdio_e2e::Proc p(legacy(
      "json",
      {"sh", "-c", R"(printf 'Content-Type: text/plain\n\n%s|%s' "$SERVER_NAME" "$SERVER_PORT")"}));
  json answer = json_call(p, "/r/app/cgi", {{"Host", {std::string("evil\r\0host:81", 13)}}});
  CHECK(answer["body"] == "localhost|80");
}

TEST_CASE("cgi: Fn's legacy http format answers with the head's status line and headers") {
  stdio_e2e::Proc p(legacy("http", {kScript}));
  REQUIRE(p.write(
      "GET /r/app/cgi/missing HTTP/1.1\r\nHost: localhost:8080\r\nFn_call_id: c1\r\n"
      "Fn_method: GET\r\nFn_request_url: http://localhost:8080/r/app/cgi/missing\r\n\r\n"
      "POST /r/app/cgi/old HTTP/1.1\r\nHost: localhost:8080\r\nContent-Length: 2\r\n\r\nhi"));
  auto missing = next(p);
  CHECK(missing.status == 404);
  CHECK(missing.header("Content-Type") == "text/plain; charset=utf-8");
  CHECK(missing.body == "nothing at /r/app/cgi/missing\n");
  auto old = next(p);
  CHECK(old.status == 302);
  CHECK(old.header("Location") == "https://example.com/new");
  CHECK(old.header("Content-Length") == "0");
  CHECK(old.body.empty());
}

TEST_CASE("cgi: the http contract answers with the script's own status and headers") {
  TempDir tmp;
  uint16_t port = free_tcp_port();
  auto srv = http_cgi_server({kScript}, port, tmp);
  auto get = [&](std::string path) {
    Conn c = Conn::tcp(port);
    return c.call(plain_get(std::move(path), port));
  };
  Response missing = get("/cgi/missing?x=1");
  INFO(missing);
  CHECK(missing.status == 404);
  CHECK(missing.header("Content-Type") == "text/plain; charset=utf-8");
  CHECK(missing.has_header("X-Call-Id"));
  CHECK(missing.body == "nothing at /cgi/missing\n");
  Response old = get("/cgi/old");
  INFO(old);
  CHECK(old.status == 302);
  CHECK(old.header("Location") == "https://example.com/new");
  Response index = get("/?q=2");
  INFO(index);
  CHECK(index.status == 200);
  CHECK(index.header("Content-Type") == "application/json");
  CHECK(index.header("Cache-Control") == "no-store");
  CHECK(index.body == "{\"method\":\"GET\",\"query\":\"q=2\",\"bytes\":0}\n");
}

TEST_CASE("cgi: the http contract gives REMOTE_ADDR and REMOTE_PORT of the caller's connection") {
  TempDir tmp;
  uint16_t port = free_tcp_port();
  auto srv = http_cgi_server(
      {"/bin/sh", "-c", "printf '%s %s %s' \"$REMOTE_ADDR\" \"$REMOTE_PORT\" \"$SERVER_PORT\""},
      port, tmp);
  Conn c = Conn::tcp(port);
  sockaddr_in local{};
  socklen_t len = sizeof local;
  REQUIRE(::getsockname(c.fd(), reinterpret_cast<sockaddr*>(&local), &len) == 0);
  Request r = plain_get("/", port);
  // Twice on the same connection: the address is read once per connection.
  for (int i = 0; i < 2; ++i) {
    Response res = c.call(r);
    INFO(res);
    CHECK(res.status == 200);
    // An IPv4 caller of the dual-stack listener is named as IPv4, as CGI scripts expect.
    CHECK(res.body ==
          "127.0.0.1 " + std::to_string(ntohs(local.sin_port)) + " " + std::to_string(port));
  }
}
