// The lambda contract's decoders and encoders (protocols/lambda_event.hpp) on arbitrary bytes: an
// event as the Runtime API hands it over, and the command's output as the answer's body.
//
// Oracles (real assertions; they abort):
// - decode_http_event never fails on an event that is not an HTTP event unless forced, agrees with
//   http_shape(), and what it decodes can be handed to the command: the method a token, the URL
//   and every header a valid field (no CR, LF or NUL smuggled through JSON escapes);
// - base64: decode(encode(x)) == x; whatever decodes encodes to something that decodes the same;
// - valid_utf8 agrees with a plain reference decoder;
// - http_answer is JSON whose body gives the output back exactly (text as is, anything else as
//   base64), with the verdict's status; the streamed prelude is JSON and eight NULs; the error
//   object is JSON with the three fields.
//
// Input: the first byte chooses the mode (bit 0: HTTP forced; bit 1: also encode as V1), the rest
// is the event and the output.
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "protocols/lambda_event.hpp"

using namespace hotwrap;
using nlohmann::json;

namespace {

// A plain UTF-8 check, written apart from the one under test.
bool reference_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (len == 0 || i + static_cast<size_t>(len) > s.size()) return false;
    uint32_t cp = len == 1 ? c : c & (0xff >> (len + 1));
    for (int k = 1; k < len; ++k) {
      auto d = static_cast<unsigned char>(s[i + static_cast<size_t>(k)]);
      if ((d & 0xc0) != 0x80) return false;
      cp = cp << 6 | (d & 0x3f);
    }
    static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += static_cast<size_t>(len);
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t mode = data[0];
  std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);

  auto e = decode_http_event(in, (mode & 1) != 0);
  HttpShape shape = http_shape(in);
  if ((mode & 1) == 0) assert(e.has_value() || shape != HttpShape::None);
  if (e) {
    assert(e->shape == shape);
    if (shape != HttpShape::None) {
      assert(valid_header_name(e->head.method));
      assert(!e->head.url.empty() && valid_header_value(e->head.url));
      for (const Header& h : e->head.headers) {
        assert(valid_header_name(h.name) && valid_header_value(h.value));
      }
    }
  }

  std::string enc = base64_encode(in);
  assert(enc.size() % 4 == 0);
  assert(base64_decode(enc) == std::string(in));
  if (auto dec = base64_decode(in)) assert(base64_decode(base64_encode(*dec)) == *dec);

  assert(valid_utf8(in) == reference_utf8(in));

  Verdict v;
  v.status = 200 + mode;
  v.content_type = "text/plain";
  v.headers.push_back({"Set-Cookie", "a=1"});
  v.headers.push_back({"X-A", "1"});
  v.headers.push_back({"x-a", "2"});
  HttpShape as = (mode & 2) != 0 ? HttpShape::V1 : HttpShape::V2;
  json a = json::parse(http_answer(as, v, in), nullptr, false);
  assert(a.is_object() && a["statusCode"] == v.status);
  std::string body = a["body"].get<std::string>();
  if (a["isBase64Encoded"].get<bool>()) {
    assert(!valid_utf8(in));
    assert(base64_decode(body) == std::string(in));
  } else {
    assert(body == in);
  }

  std::string prelude = http_stream_prelude(v);
  assert(prelude.size() > 8 && prelude.substr(prelude.size() - 8) == std::string(8, '\0'));
  assert(!json::parse(prelude.substr(0, prelude.size() - 8), nullptr, false).is_discarded());

  json err = json::parse(lambda_error_json("Runtime.ExitError", in, in), nullptr, false);
  assert(err.is_object() && err["errorMessage"].is_string() && err["stackTrace"].is_array());
  return 0;
}
