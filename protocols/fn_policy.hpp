// Fn's policy, shared by its four formats: how a call is answered (status and Fn-* headers), how
// request headers become the command's FN_* variables, and Fn's log framing.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hotwrap/config.hpp"
#include "hotwrap/env.hpp"
#include "hotwrap/http.hpp"
#include "hotwrap/reply.hpp"

namespace hotwrap {

// Exit 0 → 200 with the output. Deadline → 504 (sent before Fn-Deadline, so the agent keeps the
// container). Cut short by hotwrap's shutdown → 503. Any other failure → 502 with a text naming it,
// or, for a trigger call (Fn-Intent: httprequest), 200 with Fn-Http-Status: 500 and the output, so
// the caller still sees what the command printed. While the output streams (outcome == nullptr):
// 200, and Fn-Http-Status: 200 for a trigger call.
Verdict fn_verdict(const Outcome* outcome, bool trigger, const Config& config);

// fn_verdict as a call's StatusPolicy.
StatusPolicy fn_policy(bool trigger, const Config& config);

// Fn-Fdk-Version and Fn-Fdk-Runtime, which every response carries.
std::vector<Header> fdk_headers(const Config& config);

// The variable a request header becomes, as the old wrapper named them: `Fn-<X>` → `FN_<X>`
// (upper case, `-` → `_`) and `Content-Type` → `FN_CONTENT_TYPE`. Any other header, or a name that
// would not be [A-Z0-9_]+, has no variable (it is skipped, never mangled into another name).
std::optional<std::string> env_name_for_header(std::string_view header);
// True for FN_ followed by one or more of [A-Z0-9_].
bool is_generated_env_name(std::string_view name);
// Adds a request header to `env` under its Fn name, if it has one.
void add_fn_header(CallEnv& env, std::string_view header, std::string_view value);

// Fn log framing: FN_LOGFRAME_NAME / FN_LOGFRAME_HDR from the container's environment. Before
// each call, "\n<NAME>=<value of the HDR request header>\n" goes to stderr (and to stdout where
// stdout is the log, in http-stream), so the agent can tell the calls' log lines apart.
class LogFrame {
 public:
  LogFrame(const char* name, const char* header);
  // The request header to take the value from; empty when framing is off.
  const std::string& header() const { return header_; }
  void write(std::string_view value, bool to_stdout) const;

 private:
  std::string name_;
  std::string header_;
};

}  // namespace hotwrap
