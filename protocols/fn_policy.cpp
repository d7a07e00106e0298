#include "protocols/fn_policy.hpp"

#include <unistd.h>

#include "hotwrap/log.hpp"

namespace hotwrap {

Verdict fn_verdict(const Outcome* outcome, bool trigger, const Config& config) {
  Verdict v;
  v.content_type = config.content_type;
  if (outcome != nullptr && (outcome->timed_out() || outcome->kind == Outcome::Kind::ShutDown)) {
    // 504 before Fn-Deadline keeps the container; 503: this one is going away.
    v.status = outcome->timed_out() ? 504 : 503;
    v.output_is_body = false;
    v.message = failure_text(*outcome, config);
    v.failed = true;
  } else if (trigger) {
    bool ok = outcome == nullptr || outcome->ok();
    v.headers.push_back({"Fn-Http-Status", ok ? "200" : "500"});
    v.failed = !ok;
  } else if (outcome != nullptr && !outcome->ok()) {
    v.status = 502;
    v.output_is_body = false;
    v.message = failure_text(*outcome, config);
    v.failed = true;
  }
  return v;
}

StatusPolicy fn_policy(bool trigger, const Config& config) {
  return [trigger, &config](const Outcome* o) { return fn_verdict(o, trigger, config); };
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
