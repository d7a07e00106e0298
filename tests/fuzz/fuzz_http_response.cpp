// The client's response path: ResponseParser fed a connection's byte stream cut at fuzzer-chosen
// points, responses consumed back to back as a client consumes them, finish() at EOF; and each
// response read written again with response_head() / chunk_header() / chunk_trailer() and read
// back.
//
// Oracles (real assertions; they abort):
// - the same stream fed whole and fed in pieces yields the same responses, trailers, keep-alive
//   and refusal, and the same ending at EOF;
// - a step never consumes more than it was given, and a step that neither ends a message nor fails
//   consumes everything (otherwise the client would loop or lose bytes);
// - limits hold: header bytes (reason phrase, fields, trailers), field count, body bytes;
// - no 1xx is reported, 204 and 304 have no body, only a chunked body has trailers;
// - what the writers produce from a response the parser accepted parses back to the same status,
//   fields, body and trailers.
//
// Input: the stream itself (a seed is a verbatim response). The cut points and the limit preset are
// drawn from the input's last bytes, as in fuzz_http_request.
#include <fuzzer/FuzzedDataProvider.h>

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "hotwrap/http.hpp"
#include "pieces.hpp"

using namespace hotwrap;

namespace {

bool same_fields(const std::vector<Header>& a, const std::vector<Header>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].name != b[i].name || a[i].value != b[i].value) return false;
  }
  return true;
}

struct Message {
  int status = 0;
  std::string reason;
  std::vector<Header> headers;
  std::string body;
  std::vector<Header> trailers;
  bool keep_alive = true;
  bool operator==(const Message& o) const {
    return status == o.status && reason == o.reason && body == o.body &&
           keep_alive == o.keep_alive && same_fields(headers, o.headers) &&
           same_fields(trailers, o.trailers);
  }
};

struct Result {
  std::vector<Message> messages;  // complete messages, in order
  ResponseError error = ResponseError::None;
  bool closed = false;   // a message without keep-alive ended the connection
  bool eof_end = false;  // finish() completed a body that runs to EOF
};

uint64_t field_bytes(const std::vector<Header>& fields) {
  uint64_t n = 0;
  for (const Header& h : fields) n += h.name.size() + h.value.size();
  return n;
}

// Feeds `pieces` one after the other, consuming responses back to back as a client does: after a
// response ends, the rest of the input is the next one; the first refusal ends the stream; so does
// a response that does not keep the connection alive. Then EOF.
Result run(const std::vector<std::string_view>& pieces, const ResponseLimits& limits) {
  ResponseParser parser(limits);
  Result r;
  Message cur;
  bool in_head = false;
  auto end_message = [&] {
    assert(in_head);
    assert(!parser.in_message());
    const std::vector<Header>& trailers = parser.trailers();
    assert(trailers.size() <= limits.max_headers);
    assert(field_bytes(parser.head().headers) + parser.head().reason.size() +
               field_bytes(trailers) <=
           limits.max_header_bytes);
    if (!trailers.empty()) assert(parser.head().find("Transfer-Encoding") != nullptr);
    cur.trailers = trailers;
    cur.keep_alive = parser.keep_alive();
    r.messages.push_back(std::move(cur));
    cur = Message{};
    in_head = false;
  };
  for (std::string_view in : pieces) {
    while (!in.empty()) {
      MessageParser::Step step = parser.feed(in);
      assert(step.consumed <= in.size());
      if (step.error) {
        assert(parser.error() != ResponseError::None);
        assert(!parser.error_reason().empty());
        r.error = parser.error();
        // A refused stream stays refused.
        assert(parser.feed("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").error);
        assert(parser.finish().error);
        return r;
      }
      if (step.head) {
        const ResponseHead& head = parser.head();
        assert(!in_head);
        in_head = true;
        assert(head.status / 100 != 1);
        assert(head.headers.size() <= limits.max_headers);
        assert(field_bytes(head.headers) + head.reason.size() <= limits.max_header_bytes);
        cur = Message{head.status, head.reason, head.headers, {}, {}, true};
      }
      for (std::string_view b : parser.body()) {
        assert(in_head);
        assert(b.data() >= in.data() && b.data() + b.size() <= in.data() + in.size());
        assert(cur.status != 204 && cur.status != 304);
        cur.body.append(b);
      }
      if (limits.max_body_bytes != 0) assert(cur.body.size() <= limits.max_body_bytes);
      in.remove_prefix(step.consumed);
      if (step.end) {
        end_message();
        if (!r.messages.back().keep_alive) {
          r.closed = true;
          return r;
        }
        continue;
      }
      // Not at the end of a message and no error: everything given was taken.
      assert(in.empty());
    }
  }
  bool was_in_message = parser.in_message();
  MessageParser::Step step = parser.finish();
  assert(step.consumed == 0 && parser.body().empty());
  if (step.error) {
    assert(was_in_message);
    r.error = parser.error();
    assert(r.error == ResponseError::Malformed);
  } else if (step.end) {
    // Only a body that runs to EOF ends at EOF, and such a connection is not kept alive.
    assert(was_in_message);
    end_message();
    assert(!r.messages.back().keep_alive);
    r.eof_end = true;
  } else {
    assert(!was_in_message);
  }
  return r;
}

bool is_limit(ResponseError e) {
  return e == ResponseError::HeadersTooLarge || e == ResponseError::BodyTooLarge;
}

// As in fuzz_http_request: fed whole, llhttp hands over a token only once it ends, so a response
// that breaks a limit and is also malformed further on may be refused as malformed when fed whole
// and as over the limit when cut. The difference is accepted in that one direction only.
bool same(const Result& whole, const Result& pieces) {
  bool errors_agree = whole.error == pieces.error ||
                      (whole.error == ResponseError::Malformed && is_limit(pieces.error));
  return whole.messages == pieces.messages && errors_agree && whole.closed == pieces.closed &&
         whole.eof_end == pieces.eof_end;
}

// For the report of a failed comparison.
void dump(const char* what, const Result& r) {
  std::fprintf(stderr, "%s: %zu messages, error %d, closed %d, eof end %d\n", what,
               r.messages.size(), static_cast<int>(r.error), r.closed, r.eof_end);
  for (const Message& m : r.messages) {
    std::fprintf(stderr, "  %d %s, %zu headers, body %zu bytes, %zu trailers, keep-alive %d\n",
                 m.status, m.reason.c_str(), m.headers.size(), m.body.size(), m.trailers.size(),
                 m.keep_alive);
  }
}

void check_same(const Result& whole, const Result& pieces, const char* how) {
  if (same(whole, pieces)) return;
  dump("fed whole", whole);
  dump(how, pieces);
  assert(same(whole, pieces) && "the cut points changed what was parsed");
}

bool framing_field(const Header& h) {
  return iequals(h.name, "Content-Length") || iequals(h.name, "Transfer-Encoding") ||
         iequals(h.name, "Connection");
}

// Writes `m` again (its own framing replaced by the writers') and reads it back.
void round_trip(const Message& m) {
  if (m.status < 200 || m.status > 599 || m.status == 204 || m.status == 304) return;
  std::vector<Header> fields;
  for (const Header& h : m.headers) {
    if (framing_field(h)) continue;
    // What llhttp accepts in a field, the writer must accept too.
    assert(valid_header_name(h.name) && valid_header_value(h.value));
    fields.push_back(h);
  }
  for (const Header& h : m.trailers) {
    assert(valid_header_name(h.name) && valid_header_value(h.value));
  }
  bool chunked = !m.trailers.empty();
  std::string wire = response_head(m.status, fields, chunked ? -1 : int64_t(m.body.size()));
  if (chunked) {
    if (!m.body.empty()) wire += chunk_header(m.body.size()) + m.body + "\r\n";
    wire += chunk_trailer(m.trailers);
  } else {
    wire += m.body;
  }
  ResponseParser parser({1 << 20, 1 << 10, 0});
  MessageParser::Step step = parser.feed(wire);
  assert(!step.error && step.head && step.end && step.consumed == wire.size());
  const ResponseHead& head = parser.head();
  assert(head.status == m.status);
  std::string body;
  for (std::string_view b : parser.body()) body.append(b);
  assert(body == m.body);
  assert(head.headers.size() == fields.size() + 1);  // + the writer's framing field
  for (size_t i = 0; i < fields.size(); ++i) {
    assert(head.headers[i].name == fields[i].name && head.headers[i].value == fields[i].value);
  }
  assert(same_fields(parser.trailers(), m.trailers));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view stream(reinterpret_cast<const char*>(data), size);
  FuzzedDataProvider fdp(data, size);

  // The client's defaults, or small limits that the fuzzer can reach.
  ResponseLimits limits;
  if (fdp.ConsumeBool()) limits = {512, 8, 256};

  Result whole = run({stream}, limits);
  for (const Message& m : whole.messages) round_trip(m);

  check_same(whole, run(fuzzer_pieces(fdp, stream), limits), "fed in fuzzer-chosen pieces");

  // One byte at a time, for short streams: every cut point at once.
  if (size <= 2048) {
    std::vector<std::string_view> bytes;
    for (size_t i = 0; i < size; ++i) bytes.push_back(stream.substr(i, 1));
    check_same(whole, run(bytes, limits), "fed one byte at a time");
  }
  return 0;
}
