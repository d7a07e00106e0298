// Fn's policy, shared by its four formats: how a call is answered (status and Fn-* headers), how
// request headers become the command's FN_* variables, and Fn's log framing.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "hotwrap/config.hpp"
#include "hotwrap/env.hpp"
#include "hotwrap/http.hpp"
#include "hotwrap/reply.hpp"

namespace hotwrap {

// How an Fn format carries the command's CGI head (HOTWRAP_CGI=1).
enum class FnCgi {
  // http-stream, as Fn's FDKs do: `Fn-Http-Status: <status>` and `Fn-Http-H-<Name>` for each
  // header (Content-Type plain) inside the container's own 200, on invoke and trigger calls alike:
  // the agent passes them to the invoker, and the gateway makes them the trigger's response.
  Headers,
  // The legacy json and http formats: the response's own status (protocol.status_code, the
  // status line) and headers, as put_cgi_head() puts them; a trigger call also gets
  // Fn-Http-Status with the same status.
  Straight,
};

// Exit 0 → 200 with the output. Deadline → 504 (sent before Fn-Deadline, so the agent keeps the
// container). Cut short by hotwrap's shutdown → 503. Any other failure → 502 with a text naming it,
// or, for a trigger call (Fn-Intent: httprequest), 200 with Fn-Http-Status: 500 and the output, so
// the caller still sees what the command printed. While the output streams (outcome == nullptr):
// 200, and Fn-Http-Status: 200 for a trigger call. A call that did not fail and whose output began
// with a CGI head (`cgi`) answers with its status and headers as `style` carries them; a failure
// is answered as above (the trigger's 500 body is the output after the head, or, for a broken
// head, the text naming what is wrong with it).
Verdict fn_verdict(const Outcome* outcome, const CgiHead* cgi, bool trigger, const Config& config,
                   FnCgi style = FnCgi::Headers);

// fn_verdict as a call's StatusPolicy.
StatusPolicy fn_policy(bool trigger, const Config& config, FnCgi style = FnCgi::Headers);

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

// HOTWRAP_CGI=1: the CGI request variables of an Fn call (add_cgi_request_env), from the request
// headers as the container received them. A trigger call carries its caller's request: the method
// in Fn-Http-Method, the URL in Fn-Http-Request-Url, the headers as Fn-Http-H-<Name> (Content-Type
// unprefixed). An invoke call carries no URL of its caller: `method` and `url` are the best the
// format knows (the request's own, or the json format's protocol fields), and its headers are the
// ones not named Fn-* or Fn_* (those are the agent's, and are FN_* variables already).
// `content_length`: the body's length when the format knows it; else the Content-Length header.
void add_fn_cgi_env(CallEnv& env, std::span<const Header> headers, bool trigger,
                    std::string_view method, std::string_view url,
                    std::optional<uint64_t> content_length = std::nullopt);

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
