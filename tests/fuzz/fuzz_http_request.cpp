// The http-stream (and http format) request path: RequestParser fed a byte stream cut at
// fuzzer-chosen points, messages consumed back to back as a connection consumes them, and every
// header of every request head mapped into the command's environment (CallEnv) the way a call is
// started.
//
// Oracles (real assertions; they abort):
// - the same stream fed whole and fed in pieces yields the same requests and the same refusal;
// - a step never consumes more than it was given, and a step that neither ends a message nor fails
//   consumes everything (otherwise the connection would loop or lose bytes);
// - limits hold: URL, header bytes, header count, body bytes;
// - the environment a call gets keeps the container's variables unchanged, in place, and adds only
//   FN_[A-Z0-9_]+ names, each once.
//
// Input: the stream itself (a seed is a verbatim request). The cut points and the limit preset are
// drawn from the input's last bytes (FuzzedDataProvider reads integers from the end), so the
// fuzzer chooses them without the seeds needing a binary prefix.
#include <fuzzer/FuzzedDataProvider.h>

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "hotwrap/deadline.hpp"
#include "hotwrap/env.hpp"
#include "hotwrap/http.hpp"
#include "pieces.hpp"
#include "protocols/fn_policy.hpp"

using namespace hotwrap;

namespace {

// The container's environment: some FN_ names preset by the platform, which no header may replace.
const char* const kBase[] = {"PATH=/usr/local/bin:/usr/bin:/bin",
                             "HOME=/root",
                             "FN_FORMAT=http-stream",
                             "FN_LISTENER=unix:/tmp/iofs/lsnr.sock",
                             "FN_APP_ID=01APP",
                             "FN_FN_ID=01FN",
                             "FN_MEMORY=128",
                             "FN_CALL_ID=preset-by-container",
                             "LD_PRELOAD=",
                             nullptr};
constexpr size_t kBaseCount = sizeof kBase / sizeof kBase[0] - 1;

struct Message {
  std::string method;
  std::string url;
  std::vector<Header> headers;
  std::string body;
  bool keep_alive = true;
  bool operator==(const Message& o) const {
    if (method != o.method || url != o.url || body != o.body || keep_alive != o.keep_alive ||
        headers.size() != o.headers.size()) {
      return false;
    }
    for (size_t i = 0; i < headers.size(); ++i) {
      if (headers[i].name != o.headers[i].name || headers[i].value != o.headers[i].value) {
        return false;
      }
    }
    return true;
  }
};

struct StreamResult {
  std::vector<Message> messages;  // complete messages, in order
  RequestError error = RequestError::None;
  bool closed = false;     // a message without keep-alive ended the connection
  bool clean_eof = false;  // finish() at the end of the stream: between messages
};

bool is_env_name_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

// What starting a call does with a request head: every header through CallEnv, Fn-Deadline through
// the deadline parser; then the environment's invariants.
void start_call(BaseEnv& base, const RequestHead& head) {
  CallEnv env;
  for (const Header& h : head.headers) {
    add_fn_header(env, h.name, h.value);
    if (iequals(h.name, "Fn-Deadline")) {
      // Rejected, it says why in the log line.
      auto deadline = parse_rfc3339(h.value);
      assert(deadline.has_value() || !deadline.error().empty());
    }
  }
  base.admit(env);
  char* const* envp = base.envp(env);
  size_t n = 0;
  while (envp[n] != nullptr) ++n;
  assert(n >= kBaseCount);
  for (size_t i = 0; i < kBaseCount; ++i) {
    // The base is passed as it is: same strings, same order, nothing replaced.
    assert(std::strcmp(envp[i], kBase[i]) == 0);
  }
  std::vector<std::string_view> names;
  for (size_t i = kBaseCount; i < n; ++i) {
    std::string_view line = envp[i];
    size_t eq = line.find('=');
    assert(eq != std::string_view::npos);
    std::string_view name = line.substr(0, eq);
    assert(name.size() > 3 && name.starts_with("FN_"));
    for (char c : name) assert(is_env_name_char(c));
    for (size_t j = 0; j < kBaseCount; ++j) {
      assert(std::string_view(kBase[j]).substr(0, name.size() + 1) != line.substr(0, eq + 1));
    }
    for (std::string_view seen : names) assert(seen != name);
    names.push_back(name);
  }
  assert(names.size() == env.vars().size());
}

// Feeds `pieces` one after the other, consuming messages back to back as a connection does: after
// a message ends, the rest of the input is the next message; the first refusal ends the stream;
// a message that does not keep the connection alive ends it too.
StreamResult run(const std::vector<std::string_view>& pieces, const RequestLimits& limits,
                 BaseEnv& env) {
  RequestParser parser(limits);
  StreamResult r;
  Message cur;
  bool in_head = false;
  for (std::string_view in : pieces) {
    while (!in.empty()) {
      RequestParser::Step step = parser.feed(in);
      assert(step.consumed <= in.size());
      if (step.error) {
        assert(parser.error() != RequestError::None);
        assert(!parser.error_reason().empty());
        int status = status_for(parser.error());
        assert(status == 400 || status == 413 || status == 414 || status == 431);
        r.error = parser.error();
        // A refused stream stays refused.
        assert(parser.feed("GET / HTTP/1.1\r\n\r\n").error);
        return r;
      }
      if (step.head) {
        const RequestHead& head = parser.head();
        assert(!in_head);
        in_head = true;
        assert(!head.method.empty());
        assert(head.url.size() <= limits.max_url_bytes);
        assert(head.headers.size() <= limits.max_headers);
        uint64_t bytes = 0;
        for (const Header& h : head.headers) bytes += h.name.size() + h.value.size();
        assert(bytes <= limits.max_header_bytes);
        (void)head.path();
        start_call(env, head);
        cur = Message{head.method, head.url, head.headers, {}, true};
      }
      for (std::string_view b : parser.body()) {
        assert(in_head);
        assert(b.data() >= in.data() && b.data() + b.size() <= in.data() + in.size());
        cur.body.append(b);
      }
      if (limits.max_body_bytes != 0) assert(cur.body.size() <= limits.max_body_bytes);
      in.remove_prefix(step.consumed);
      if (step.end) {
        assert(in_head);
        assert(!parser.in_message());
        cur.keep_alive = parser.keep_alive();
        r.messages.push_back(std::move(cur));
        cur = Message{};
        in_head = false;
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
  r.clean_eof = parser.finish();
  if (!r.clean_eof) {
    assert(parser.in_message());
    r.error = parser.error();
    assert(r.error == RequestError::Malformed);
  }
  return r;
}

bool is_limit(RequestError e) {
  return e == RequestError::UrlTooLong || e == RequestError::HeadersTooLarge ||
         e == RequestError::BodyTooLarge;
}

// `whole` was fed in one piece, `pieces` in several. A limit is checked as the bytes of a token
// arrive, a syntax error where the bad byte is; fed whole, llhttp hands over a token only once it
// ends. So a request that breaks a limit and is also malformed further on may be refused as
// malformed when fed whole and as over the limit when cut: both are refusals that close the
// connection, and the difference is accepted in that one direction only.
bool same(const StreamResult& whole, const StreamResult& pieces) {
  bool errors_agree = whole.error == pieces.error ||
                      (whole.error == RequestError::Malformed && is_limit(pieces.error));
  return whole.messages == pieces.messages && errors_agree && whole.closed == pieces.closed &&
         whole.clean_eof == pieces.clean_eof;
}

// For the report of a failed comparison.
void dump(const char* what, const StreamResult& r) {
  std::fprintf(stderr, "%s: %zu messages, error %d, closed %d, clean eof %d\n", what,
               r.messages.size(), static_cast<int>(r.error), r.closed, r.clean_eof);
  for (const Message& m : r.messages) {
    std::fprintf(stderr, "  %s %s, %zu headers, body %zu bytes, keep-alive %d\n", m.method.c_str(),
                 m.url.c_str(), m.headers.size(), m.body.size(), m.keep_alive);
  }
}

void check_same(const StreamResult& whole, const StreamResult& pieces, const char* how) {
  if (same(whole, pieces)) return;
  dump("fed whole", whole);
  dump(how, pieces);
  assert(same(whole, pieces) && "the cut points changed what was parsed");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view stream(reinterpret_cast<const char*>(data), size);
  FuzzedDataProvider fdp(data, size);

  // The server's defaults, or small limits that the fuzzer can reach.
  RequestLimits limits;
  if (fdp.ConsumeBool()) limits = {64, 512, 8, 256};

  static BaseEnv env(kBase);
  StreamResult whole = run({stream}, limits, env);

  check_same(whole, run(fuzzer_pieces(fdp, stream), limits, env), "fed in fuzzer-chosen pieces");

  // One byte at a time, for short streams: every cut point at once.
  if (size <= 2048) {
    std::vector<std::string_view> bytes;
    for (size_t i = 0; i < size; ++i) bytes.push_back(stream.substr(i, 1));
    check_same(whole, run(bytes, limits, env), "fed one byte at a time");
  }
  return 0;
}
