#include "protocols/fn_policy.hpp"

#include <unistd.h>

#include "hotwrap/log.hpp"
#include "protocols/cgi_env.hpp"

namespace hotwrap {

Verdict fn_verdict(const Outcome* outcome, const CgiHead* cgi, bool trigger, const Config& config,
                   FnCgi style) {
  Verdict v;
  v.content_type = config.content_type;
  if (outcome != nullptr && (outcome->timed_out() || outcome->kind == Outcome::Kind::ShutDown)) {
    // 504 before Fn-Deadline keeps the container; 503: this one is going away.
    v.status = outcome->timed_out() ? 504 : 503;
    v.output_is_body = false;
    v.message = failure_text(*outcome, config);
    v.failed = true;
    return v;
  }
  if (outcome != nullptr && !outcome->ok()) {
    v.failed = true;
    if (trigger) {
      // The caller still sees what the command printed, as a 500; the reason is in the log. A
      // broken CGI head has no body to show: its caller learns what is wrong with it instead.
      v.headers.push_back({"Fn-Http-Status", "500"});
      if (outcome->kind == Outcome::Kind::BadOutput) {
        v.output_is_body = false;
        v.message = "hotwrap: the command " + outcome->describe() + "\n";
      }
    } else {
      v.status = 502;
      v.output_is_body = false;
      v.message = failure_text(*outcome, config);
    }
    return v;
  }
  if (cgi == nullptr) {
    if (trigger) v.headers.push_back({"Fn-Http-Status", "200"});
    return v;
  }
  std::string status = std::to_string(cgi->status);
  if (style == FnCgi::Straight) {
    if (trigger) v.headers.push_back({"Fn-Http-Status", status});
    put_cgi_head(v, *cgi);
    return v;
  }
  v.headers.push_back({"Fn-Http-Status", std::move(status)});
  for (const Header& h : cgi->headers) v.headers.push_back({"Fn-Http-H-" + h.name, h.value});
  if (!cgi->content_type.empty()) v.content_type = cgi->content_type;
  return v;
}

StatusPolicy fn_policy(bool trigger, const Config& config, FnCgi style) {
  return [trigger, &config, style](const Outcome* o, const CgiHead* cgi) {
    return fn_verdict(o, cgi, trigger, config, style);
  };
}

std::vector<Header> fdk_headers(const Config& config) {
  const std::string& cmd = config.command.front();
  return {{"Fn-Fdk-Version", "hotwrap/" HOTWRAP_VERSION},
          {"Fn-Fdk-Runtime", "exec/" + cmd.substr(cmd.rfind('/') + 1)}};
}

bool is_generated_env_name(std::string_view name) {
  if (name.size() <= 3 || !name.starts_with("FN_")) return false;
  for (char c : name) {
    if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

std::optional<std::string> env_name_for_header(std::string_view header) {
  if (iequals(header, "content-type")) return "FN_CONTENT_TYPE";
  if (header.size() < 3 || !iequals(header.substr(0, 3), "fn-")) return std::nullopt;
  std::string name = "FN_";
  for (char c : header.substr(3)) {
    if (c >= 'a' && c <= 'z')
      c = static_cast<char>(c - 'a' + 'A');
    else if (c == '-')
      c = '_';
    name += c;
  }
  if (!is_generated_env_name(name)) return std::nullopt;
  return name;
}

void add_fn_header(CallEnv& env, std::string_view header, std::string_view value) {
  if (auto name = env_name_for_header(header)) env.add(*name, value);
}

void add_fn_cgi_env(CallEnv& env, std::span<const Header> headers, bool trigger,
                    std::string_view method, std::string_view url,
                    std::optional<uint64_t> content_length) {
  constexpr std::string_view kCallerHeader = "Fn-Http-H-";
  std::vector<Header> caller;
  for (const Header& h : headers) {
    std::string_view name = h.name;
    if (iequals(name, "Fn-Http-Method")) {
      method = h.value;
    } else if (iequals(name, "Fn-Http-Request-Url")) {
      url = h.value;
    } else if (trigger) {
      // The gateway renamed every header of its caller but Content-Type.
      if (name.size() > kCallerHeader.size() &&
          iequals(name.substr(0, kCallerHeader.size()), kCallerHeader)) {
        caller.push_back({std::string(name.substr(kCallerHeader.size())), h.value});
      } else if (iequals(name, "Content-Type")) {
        caller.push_back(h);
      }
    } else if (name.size() < 3 ||
               !(iequals(name.substr(0, 3), "Fn-") || iequals(name.substr(0, 3), "Fn_"))) {
      caller.push_back(h);
    }
  }
  // The length of the body the container gets; for a trigger whose body arrives chunked, the
  // caller's own Content-Length (the gateway read exactly that many bytes of it).
  if (!content_length) content_length = body_length(headers);
  add_cgi_request_env(
      env, {.method = method, .target = url, .headers = caller, .content_length = content_length});
}

LogFrame::LogFrame(const char* name, const char* header) {
  if (name == nullptr || *name == '\0' || header == nullptr) return;
  name_ = name;
  header_ = header;
}

void LogFrame::write(std::string_view value, bool to_stdout) const {
  if (header_.empty()) return;
  std::string frame = "\n" + name_ + "=" + std::string(value) + "\n";
  if (to_stdout) write_all(STDOUT_FILENO, frame);
  log_relay(frame);
}

}  // namespace hotwrap
