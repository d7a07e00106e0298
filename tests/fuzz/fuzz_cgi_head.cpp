// CGI mode: the header-block decoder (CgiHeadDecoder) on a command's output cut at fuzzer-chosen
// points, the head mapped onto Fn's answers and written as an HTTP response head, and the CGI
// request variables made of the same bytes taken as a request.
//
// Oracles (real assertions; they abort):
// - fed whole, fed in pieces and fed byte by byte, the decoder reaches the same state with the
//   same head or the same error;
// - the choice between "not CGI" and "a head began" is the first line's alone: a head begins
//   exactly when the output starts with a token and ':' within the limit;
// - a head is within the limit, ends with its blank line's LF, has a status from 200 to 599, and
//   carries only valid field names and values, never Status, Content-Type or a framing field;
//   written out again, it decodes to itself;
// - Fn's verdicts for it, in both styles, are valid HTTP heads (response_head asserts it);
// - the request variables are safe names (never HTTP_PROXY) with no control byte in a value.
//
// Input: the output itself; the cut points and the limit come from its last bytes.
#include <fuzzer/FuzzedDataProvider.h>

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "hotwrap/cgi.hpp"
#include "hotwrap/env.hpp"
#include "hotwrap/http.hpp"
#include "hotwrap/log.hpp"
#include "pieces.hpp"
#include "protocols/cgi_env.hpp"
#include "protocols/fn_policy.hpp"

using namespace hotwrap;

namespace {

using State = CgiHeadDecoder::State;

struct Decoded {
  State state = State::NeedMore;
  int status = 0;
  std::string reason, content_type, location, error;
  std::vector<std::string> headers;  // "name\0value"
  uint64_t body_offset = 0;
  bool operator==(const Decoded&) const = default;
};

Decoded decode(const std::vector<std::string_view>& pieces, uint64_t limit) {
  CgiHeadDecoder d(limit);
  for (std::string_view p : pieces) {
    State s = d.feed(p);
    assert(s == d.state());
  }
  Decoded r;
  r.state = d.finish();
  assert(r.state != State::NeedMore);
  assert(d.finish() == r.state);  // decided for good
  if (r.state == State::Broken) {
    r.error = d.error();
    assert(!r.error.empty());
  }
  if (r.state == State::Head) {
    const CgiHead& h = d.head();
    r.status = h.status;
    r.reason = h.reason;
    r.content_type = h.content_type;
    r.location = h.location;
    r.body_offset = h.body_offset;
    for (const Header& f : h.headers) r.headers.push_back(f.name + std::string(1, '\0') + f.value);
  }
  return r;
}

bool tchar(char c) {
  return valid_header_name(std::string_view(&c, 1));
}

// Whether the output begins a header line: a token, then ':', all within the limit.
bool begins_head(std::string_view out, uint64_t limit) {
  size_t i = 0;
  while (i < out.size() && tchar(out[i])) ++i;
  return i > 0 && i < out.size() && out[i] == ':' && i < limit;
}

void check_head(const CgiHead& h, std::string_view out, uint64_t limit) {
  assert(h.body_offset >= 3 && h.body_offset <= limit && h.body_offset <= out.size());
  assert(out[h.body_offset - 1] == '\n');
  assert(h.status >= 200 && h.status <= 599);
  assert(valid_header_value(h.reason) && valid_header_value(h.content_type));
  bool location_seen = false;
  for (const Header& f : h.headers) {
    assert(valid_header_name(f.name) && valid_header_value(f.value));
    for (std::string_view never :
         {"Status", "Content-Type", "Content-Length", "Transfer-Encoding", "Connection"}) {
      assert(!iequals(f.name, never));
    }
    if (iequals(f.name, "Location")) {
      assert(!location_seen && f.value == h.location);
      location_seen = true;
    }
  }
  assert(location_seen == !h.location.empty());

  // Written out again, with a status line only when the decoder could not infer it, it decodes to
  // the same head.
  std::string again;
  if (h.status != 200 || !h.reason.empty()) {
    again +=
        "Status: " + std::to_string(h.status) + (h.reason.empty() ? "" : " " + h.reason) + "\r\n";
  }
  if (!h.content_type.empty()) again += "Content-Type: " + h.content_type + "\n";
  for (const Header& f : h.headers) again += f.name + ": " + f.value + "\r\n";
  if (again.empty()) return;  // a head of framing fields only has nothing left to write
  again += "\r\n";
  CgiHeadDecoder d(again.size());
  assert(d.feed(again) == State::Head);
  const CgiHead& h2 = d.head();
  assert(h2.status == h.status && h2.reason == h.reason && h2.content_type == h.content_type);
  assert(h2.location == h.location && h2.body_offset == again.size());
  assert(h2.headers.size() == h.headers.size());
  for (size_t i = 0; i < h.headers.size(); ++i) {
    assert(h2.headers[i].name == h.headers[i].name && h2.headers[i].value == h.headers[i].value);
  }

  // Fn's answers for it: response_head asserts every name and value.
  static const Config config = [] {
    Config c;
    c.command = {"fuzz"};
    return c;
  }();
  Outcome ok{Outcome::Kind::Exited, 0};
  for (FnCgi style : {FnCgi::Headers, FnCgi::Straight}) {
    for (bool trigger : {false, true}) {
      Verdict v = fn_verdict(&ok, &h, trigger, config, style);
      std::vector<Header> all = v.headers;
      all.push_back({"Content-Type", v.content_type});
      std::string head = response_head(v.status, all, 0);
      assert(head.starts_with("HTTP/1.1 "));
    }
  }
}

// The same bytes as a request: the first line the target, the next lines `name: value` headers.
void check_request_env(std::string_view in) {
  std::vector<std::string_view> lines;
  while (!in.empty() && lines.size() < 16) {
    size_t nl = in.find('\n');
    lines.push_back(in.substr(0, nl));
    in = nl == std::string_view::npos ? std::string_view() : in.substr(nl + 1);
  }
  if (lines.empty()) return;
  std::vector<Header> headers;
  for (size_t i = 1; i < lines.size(); ++i) {
    size_t colon = lines[i].find(':');
    if (colon == std::string_view::npos) continue;
    headers.push_back(
        {std::string(lines[i].substr(0, colon)), std::string(lines[i].substr(colon + 1))});
  }
  for (bool trigger : {false, true}) {
    CallEnv env;
    add_fn_cgi_env(env, headers, trigger, "POST", lines[0]);
    for (const auto& [name, value] : env.vars()) {
      assert(is_safe_call_env_name(name));
      assert(name != "HTTP_PROXY");
      // No value cuts the variable short or breaks a line of the prespawn env file.
      assert(valid_header_value(value));
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  set_log_level(Level::Error);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view out(reinterpret_cast<const char*>(data), size);
  FuzzedDataProvider fdp(data, size);
  // hotwrap's default, or a small one the fuzzer can reach.
  uint64_t limit = fdp.ConsumeBool() ? 65536 : fdp.ConsumeIntegralInRange<uint64_t>(1, 64);

  Decoded whole = decode({out}, limit);
  assert(whole == decode(fuzzer_pieces(fdp, out), limit));
  if (size <= 4096) {
    std::vector<std::string_view> bytes;
    for (size_t i = 0; i < size; ++i) bytes.push_back(out.substr(i, 1));
    assert(whole == decode(bytes, limit));
  }
  assert((whole.state == State::NotCgi) == !begins_head(out, limit));

  if (whole.state == State::Head) {
    CgiHeadDecoder d(limit);
    d.feed(out);
    check_head(d.head(), out, limit);
  }
  check_request_env(out);
  return 0;
}
