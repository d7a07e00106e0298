// The json format's request path: the incremental frame splitter (JsonFrameSplitter) fed a byte
// stream cut at fuzzer-chosen points, frames consumed back to back as the contract consumes them,
// each frame parsed and mapped onto the call's environment by map_json_request (nlohmann, as the
// contract does), and the body run through the response's string encoder.
//
// Oracles (real assertions; they abort):
// - fed whole and fed in pieces, the splitter yields the same frames, the same skipped (too
//   large) frames and the same fatal error at the same offset;
// - a frame is exactly the stream's bytes at frame_offset(), begins with '{', and a step that
//   neither ends a frame nor fails consumes all it was given;
// - a frame that nlohmann accepts, re-serialised, splits back into exactly itself (the splitter
//   never cuts a valid object short or runs past its end);
// - the environment keeps the container's variables in place and adds only FN_[A-Z0-9_]+ names;
// - the body encoded whole or in pieces gives the same JSON string content, which parses and,
//   for valid UTF-8, decodes back to the body.
//
// Input: the stream itself (seeds are verbatim Fn json requests); the cut points and the frame
// limit come from the input's last bytes (FuzzedDataProvider reads integers from the end).
#include <fuzzer/FuzzedDataProvider.h>

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "hotwrap/env.hpp"
#include "hotwrap/log.hpp"
#include "pieces.hpp"
#include "protocols/fn_policy.hpp"
#include "protocols/json.hpp"

using namespace hotwrap;

namespace {

const char* const kBase[] = {"PATH=/usr/bin:/bin", "HOME=/",        "FN_FORMAT=json",
                             "FN_APP_ID=01APP",    "FN_FN_ID=01FN", "FN_CALL_ID=preset",
                             "LD_PRELOAD=",        nullptr};
constexpr size_t kBaseCount = sizeof kBase / sizeof kBase[0] - 1;

struct Frame {
  uint64_t offset = 0;
  std::string bytes;
  bool too_large = false;
  bool operator==(const Frame&) const = default;
};

struct Split {
  std::vector<Frame> frames;
  JsonFrameSplitter::Error error = JsonFrameSplitter::Error::None;
  uint64_t error_offset = 0;
  bool clean_end = false;
  bool operator==(const Split&) const = default;
};

void check_env(BaseEnv& base, CallEnv env) {
  base.admit(env);
  char* const* envp = base.envp(env);
  size_t n = 0;
  while (envp[n] != nullptr) ++n;
  assert(n >= kBaseCount);
  for (size_t i = 0; i < kBaseCount; ++i) assert(std::strcmp(envp[i], kBase[i]) == 0);
  for (size_t i = kBaseCount; i < n; ++i) {
    std::string_view line = envp[i];
    size_t eq = line.find('=');
    assert(eq != std::string_view::npos);
    std::string_view name = line.substr(0, eq);
    assert(is_generated_env_name(name));
    for (size_t j = 0; j < kBaseCount; ++j) {
      assert(std::string_view(kBase[j]).substr(0, name.size() + 1) != line.substr(0, eq + 1));
    }
    for (size_t j = kBaseCount; j < i; ++j) {
      assert(std::string_view(envp[j]).substr(0, eq + 1) != line.substr(0, eq + 1));
    }
  }
}

// The response side: the command's output as the body string, encoded in pieces.
void check_encoder(std::string_view body, FuzzedDataProvider& fdp) {
  std::string whole;
  JsonStringEncoder a;
  a.append(body, whole);
  a.finish(whole);

  std::string cut;
  JsonStringEncoder b;
  std::string_view rest = body;
  while (!rest.empty()) {
    size_t n = fdp.remaining_bytes() > 0 ? fdp.ConsumeIntegralInRange<size_t>(1, 8) : rest.size();
    n = std::min(n, rest.size());
    b.append(rest.substr(0, n), cut);
    rest.remove_prefix(n);
  }
  b.finish(cut);
  assert(whole == cut);

  nlohmann::json decoded = nlohmann::json::parse("\"" + whole + "\"", nullptr, false);
  assert(!decoded.is_discarded() && decoded.is_string());
  // Valid UTF-8 passes unchanged; anything else was replaced, never dropped silently.
  bool valid_utf8 = true;
  try {
    (void)nlohmann::json(std::string(body)).dump();
  } catch (const nlohmann::json::exception&) {
    valid_utf8 = false;
  }
  if (valid_utf8) assert(decoded.get<std::string>() == body);
}

// True when a full JSON parser finds no complete JSON value at the start of `text` (what
// follows one is ignored).
bool no_value_at(std::string_view text) {
  struct Recorder : nlohmann::json_sax<nlohmann::json> {
    bool null() override { return true; }
    bool boolean(bool) override { return true; }
    bool number_integer(number_integer_t) override { return true; }
    bool number_unsigned(number_unsigned_t) override { return true; }
    bool number_float(number_float_t, const string_t&) override { return true; }
    bool string(string_t&) override { return true; }
    bool binary(binary_t&) override { return true; }
    bool start_object(std::size_t) override { return true; }
    bool key(string_t&) override { return true; }
    bool end_object() override { return true; }
    bool start_array(std::size_t) override { return true; }
    bool end_array() override { return true; }
    bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
      return false;
    }
  } rec;
  return !nlohmann::json::sax_parse(text, &rec, nlohmann::json::input_format_t::json,
                                    /*strict=*/false);
}

// Consumes the stream as the contract does: frames back to back; a fatal error ends it.
Split split(const std::vector<std::string_view>& pieces, std::string_view stream, uint64_t limit) {
  JsonFrameSplitter s(limit);
  Split r;
  for (std::string_view in : pieces) {
    while (!in.empty()) {
      JsonFrameSplitter::Step step = s.feed(in);
      assert(step.consumed <= in.size());
      in.remove_prefix(step.consumed);
      if (step.fatal) {
        assert(!step.frame);
        r.error = s.error();
        r.error_offset = s.error_offset();
        assert(r.error == JsonFrameSplitter::Error::NotAnObject ||
               r.error == JsonFrameSplitter::Error::Invalid);
        assert(r.error_offset < stream.size());
        if (r.error == JsonFrameSplitter::Error::NotAnObject) {
          assert(stream[r.error_offset] != '{');
        } else {
          // Never a false alarm: where the splitter saw a broken request, a full JSON parser
          // finds no complete value either, whatever followed.
          assert(s.frame_offset() <= r.error_offset);
          assert(no_value_at(stream.substr(s.frame_offset())));
        }
        assert(!s.error_message().empty());
        assert(s.feed("{}").fatal);  // a broken stream stays broken
        return r;
      }
      if (!step.frame) {
        assert(in.empty());
        continue;
      }
      Frame f{s.frame_offset(), std::string(s.frame()),
              s.frame_error() == JsonFrameSplitter::Error::TooLarge};
      if (f.too_large) {
        assert(f.bytes.empty());
        assert(!s.error_message().empty());
      } else {
        assert(f.bytes.size() <= limit);
        assert(f.offset + f.bytes.size() <= stream.size());
        assert(stream.substr(f.offset, f.bytes.size()) == f.bytes);
        assert(f.bytes.front() == '{');
        assert(f.bytes.back() == '}' || f.bytes.back() == ']');
      }
      r.frames.push_back(std::move(f));
    }
  }
  r.clean_end = s.finish();
  if (!r.clean_end) {
    assert(s.error() == JsonFrameSplitter::Error::Truncated);
    assert(!s.error_message().empty());
  }
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  set_log_level(Level::Error);  // a bad deadline is a warning; the fuzzer makes millions
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view stream(reinterpret_cast<const char*>(data), size);
  FuzzedDataProvider fdp(data, size);
  // The contract's limit with no body limit (64 MiB), or a small one the fuzzer can reach.
  uint64_t limit = fdp.ConsumeBool() ? json_frame_limit(0, 65536) : 200;

  Split whole = split({stream}, stream, limit);

  Split cut = split(fuzzer_pieces(fdp, stream), stream, limit);
  assert(whole == cut);
  if (size <= 2048) {
    std::vector<std::string_view> bytes;
    for (size_t i = 0; i < size; ++i) bytes.push_back(stream.substr(i, 1));
    assert(whole == split(bytes, stream, limit));
  }

  static BaseEnv base(kBase);
  for (const Frame& f : whole.frames) {
    if (f.too_large) continue;
    // As the contract starts a call: parse, map onto the environment.
    auto call = map_json_request(f.bytes, f.offset, "Fn-Call-Id", 0);
    if (call) check_env(base, call->env);
    if (!call) {
      assert(call.error().status == 502 || call.error().status == 413);
      assert(!call.error().message.empty());
    } else {
      check_encoder(call->body, fdp);
    }
    // A valid object, written out again, is exactly one frame.
    nlohmann::json j = nlohmann::json::parse(f.bytes, nullptr, false);
    if (!j.is_discarded()) {
      assert(j.is_object());
      std::string text = j.dump();
      std::string twice = text + "\n" + text;
      Split again = split({twice}, twice, json_frame_limit(0, 65536));
      assert(again.clean_end && again.frames.size() == 2);
      assert(again.frames[0].bytes == text && again.frames[1].bytes == text);
      assert(again.frames[1].offset == text.size() + 1);
    }
  }
  return 0;
}
