// lambda_event: base64 both ways, UTF-8 validation, the shapes of HTTP events and their decoding,
// the answers to them (buffered and the streamed prelude), the error object, its types, and the
// deadline header.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <string>

#include "protocols/lambda_event.hpp"

using namespace hotwrap;
using nlohmann::json;

TEST_CASE("base64") {
  SUBCASE("RFC 4648 vectors") {
    CHECK(base64_encode("") == "");
    CHECK(base64_encode("f") == "Zg==");
    CHECK(base64_encode("fo") == "Zm8=");
    CHECK(base64_encode("foo") == "Zm9v");
    CHECK(base64_encode("foob") == "Zm9vYg==");
    CHECK(base64_encode("fooba") == "Zm9vYmE=");
    CHECK(base64_encode("foobar") == "Zm9vYmFy");
  }
  SUBCASE("every length round-trips, every byte value") {
    std::string bytes;
    for (int n = 0; n < 300; ++n) {
      CAPTURE(n);
      REQUIRE(base64_decode(base64_encode(bytes)) == bytes);
      bytes += static_cast<char>(n * 7 + 3);
    }
  }
  SUBCASE("URL-safe alphabet and missing padding are accepted") {
    CHECK(base64_decode("-_8") == std::string("\xfb\xff", 2));
    CHECK(base64_decode("Zg") == "f");
    CHECK(base64_decode("Zm8") == "fo");
  }
  SUBCASE("refused") {
    CHECK_FALSE(base64_decode("Z").has_value());      // no encoding has this length
    CHECK_FALSE(base64_decode("Zm9v!").has_value());  // a byte outside the alphabet
    CHECK_FALSE(base64_decode("Zm 9v").has_value());
    CHECK_FALSE(base64_decode("Zm=9v").has_value());
  }
}

TEST_CASE("valid_utf8") {
  struct Case {
    std::string bytes;
    bool valid;
  };
  const Case cases[] = {
      {"", true},
      {"plain ascii", true},
      {"h\xc3\xa9llo", true},       // é
      {"\xe2\x82\xac", true},       // €
      {"\xf0\x9f\x98\x80", true},   // U+1F600
      {"\xf4\x8f\xbf\xbf", true},   // U+10FFFF
      {"\xc0\x80", false},          // overlong NUL
      {"\xe0\x80\xaf", false},      // overlong
      {"\xed\xa0\x80", false},      // a surrogate
      {"\xf4\x90\x80\x80", false},  // past U+10FFFF
      {"\xe2\x82", false},          // cut short
      {"\x80", false},              // a continuation alone
      {"\xff", false},
      {std::string("a\0b", 3), true},
  };
  for (const Case& c : cases) {
    CAPTURE(c.bytes);
    CHECK(valid_utf8(c.bytes) == c.valid);
  }
}

namespace {

const char* const kV2 = R"({"version":"2.0","routeKey":"$default","rawPath":"/p/q",
  "rawQueryString":"a=1&b=2","cookies":["c1=v1","c2=v2"],
  "headers":{"x-foo":"bar","bad name":"dropped","x-ctl":"a\nb"},
  "requestContext":{"http":{"method":"POST","path":"/p/q"}},
  "body":"AAH/","isBase64Encoded":true})";

const char* const kV1 = R"({"resource":"/{p+}","path":"/v1","httpMethod":"GET",
  "headers":{"X-A":"1"},"multiValueHeaders":{"X-A":["1","2"]},
  "queryStringParameters":{"q":"x"},"multiValueQueryStringParameters":{"q":["a b","&"]},
  "body":"plain","isBase64Encoded":false})";

}  // namespace

TEST_CASE("http_shape") {
  CHECK(http_shape(kV2) == HttpShape::V2);
  CHECK(http_shape(kV1) == HttpShape::V1);
  CHECK(http_shape(R"({"Records":[]})") == HttpShape::None);
  CHECK(http_shape(R"({"version":"2.0"})") == HttpShape::None);     // no requestContext.http
  CHECK(http_shape(R"({"httpMethod":"GET"})") == HttpShape::None);  // no path
  CHECK(http_shape("[1,2]") == HttpShape::None);
  CHECK(http_shape("not json") == HttpShape::None);
  CHECK(http_shape("{broken") == HttpShape::None);
  CHECK(http_shape("") == HttpShape::None);
}

TEST_CASE("decode_http_event") {
  SUBCASE("payload 2.0 / function URL") {
    auto e = decode_http_event(kV2, false);
    REQUIRE(e.has_value());
    CHECK(e->shape == HttpShape::V2);
    CHECK(e->head.method == "POST");
    CHECK(e->head.url == "/p/q?a=1&b=2");
    CHECK(e->body == std::string("\0\1\xff", 3));
    REQUIRE(e->head.headers.size() == 2);  // the bad name and the control byte are dropped
    CHECK(e->head.headers[0].name == "x-foo");
    CHECK(e->head.headers[1].name == "cookie");
    CHECK(e->head.headers[1].value == "c1=v1; c2=v2");
  }
  SUBCASE("payload 1.0") {
    auto e = decode_http_event(kV1, false);
    REQUIRE(e.has_value());
    CHECK(e->shape == HttpShape::V1);
    CHECK(e->head.method == "GET");
    CHECK(e->head.url == "/v1?q=a%20b&q=%26");
    CHECK(e->body == "plain");
    REQUIRE(e->head.headers.size() == 2);  // multiValueHeaders win over headers
    CHECK(e->head.headers[1].value == "2");
  }
  SUBCASE("another event is raw, unless HTTP is forced") {
    auto raw = decode_http_event(R"({"Records":[]})", false);
    REQUIRE(raw.has_value());
    CHECK(raw->shape == HttpShape::None);
    auto forced = decode_http_event("plain text", true);
    REQUIRE_FALSE(forced.has_value());
    CHECK(forced.error() == "the event is not an API Gateway or function URL event");
  }
  SUBCASE("refusals") {
    auto bad64 = decode_http_event(
        R"({"httpMethod":"GET","path":"/","body":"!!","isBase64Encoded":true})", false);
    REQUIRE_FALSE(bad64.has_value());
    CHECK(bad64.error() == "the HTTP event's body is not valid base64");
    auto method = decode_http_event(R"({"httpMethod":"G T","path":"/"})", false);
    REQUIRE_FALSE(method.has_value());
    CHECK(method.error() == "the HTTP event has no valid method");
    auto body = decode_http_event(R"({"httpMethod":"GET","path":"/","body":7})", false);
    REQUIRE_FALSE(body.has_value());
    CHECK(body.error() == "the HTTP event's body is not a string");
  }
}

TEST_CASE("http_answer") {
  Verdict v;
  v.content_type = "text/plain";
  SUBCASE("text stays text") {
    json a = json::parse(http_answer(HttpShape::V2, v, "h\xc3\xa9"));
    CHECK(a["statusCode"] == 200);
    CHECK(a["body"] == "h\xc3\xa9");
    CHECK(a["isBase64Encoded"] == false);
    CHECK(a["headers"]["content-type"] == "text/plain");
  }
  SUBCASE("binary becomes base64") {
    std::string bin("\xff\x00\x01", 3);
    json a = json::parse(http_answer(HttpShape::V1, v, bin));
    CHECK(a["isBase64Encoded"] == true);
    CHECK(base64_decode(a["body"].get<std::string>()) == bin);
  }
  SUBCASE("status and headers from the verdict (a CGI head)") {
    v.status = 404;
    v.headers = {{"Set-Cookie", "a=1"}, {"Set-Cookie", "b=2"}, {"X-A", "1"}, {"x-a", "2"}};
    json v2 = json::parse(http_answer(HttpShape::V2, v, ""));
    CHECK(v2["statusCode"] == 404);
    CHECK(v2["cookies"] == json({"a=1", "b=2"}));
    CHECK(v2["headers"]["X-A"] == "1,2");
    json v1 = json::parse(http_answer(HttpShape::V1, v, ""));
    CHECK(v1["multiValueHeaders"]["Set-Cookie"] == json({"a=1", "b=2"}));
    CHECK(v1["multiValueHeaders"]["X-A"] == json({"1", "2"}));
    CHECK_FALSE(v1.contains("cookies"));
  }
  SUBCASE("the streamed prelude") {
    std::string p = http_stream_prelude(v);
    REQUIRE(p.size() > 8);
    CHECK(p.substr(p.size() - 8) == std::string(8, '\0'));
    json head = json::parse(p.substr(0, p.size() - 8));
    CHECK(head["statusCode"] == 200);
    CHECK_FALSE(head.contains("body"));
  }
}

TEST_CASE("the error object and its types") {
  json e = json::parse(lambda_error_json("Runtime.ExitError", "bad \xff", "one\n\ntwo\n"));
  CHECK(e["errorType"] == "Runtime.ExitError");
  CHECK(e["errorMessage"] == "bad \xef\xbf\xbd");  // U+FFFD
  CHECK(e["stackTrace"] == json({"one", "two"}));
  CHECK(json::parse(lambda_error_json("T", "", ""))["stackTrace"] == json::array());

  Outcome o;
  o.kind = Outcome::Kind::Exited;
  o.code = 3;
  CHECK(std::string(lambda_error_type(o)) == "Runtime.ExitError");
  o.kind = Outcome::Kind::Signaled;
  CHECK(std::string(lambda_error_type(o)) == "Runtime.ExitError");
  o.kind = Outcome::Kind::NotStarted;
  CHECK(std::string(lambda_error_type(o)) == "Runtime.InvalidEntrypoint");
  o.kind = Outcome::Kind::TimedOut;
  CHECK(std::string(lambda_error_type(o)) == "Runtime.Timeout");
  o.kind = Outcome::Kind::Expired;
  CHECK(std::string(lambda_error_type(o)) == "Runtime.Timeout");
  o.kind = Outcome::Kind::ShutDown;
  CHECK(std::string(lambda_error_type(o)) == "Runtime.Shutdown");
}

TEST_CASE("lambda_deadline_ms") {
  CHECK(lambda_deadline_ms("1795000000123") == 1795000000123);
  CHECK_FALSE(lambda_deadline_ms("5000").has_value());  // @vercel/fun's constant
  CHECK_FALSE(lambda_deadline_ms("").has_value());
  CHECK_FALSE(lambda_deadline_ms("17950000001x").has_value());
  CHECK_FALSE(lambda_deadline_ms("-1795000000123").has_value());
  CHECK_FALSE(lambda_deadline_ms("99999999999999999999999").has_value());
}
