#include "hotwrap/env.hpp"

#include <cstring>

namespace hotwrap {

namespace {
bool ieq_prefix(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    char a = s[i];
    if (a >= 'A' && a <= 'Z') a = static_cast<char>(a - 'A' + 'a');
    if (a != prefix[i]) return false;
  }
  return true;
}
}  // namespace

bool is_generated_env_name(std::string_view name) {
  if (name.size() <= 3 || !name.starts_with("FN_")) return false;
  for (char c : name) {
    if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

std::optional<std::string> env_name_for_header(std::string_view header) {
  if (header.size() == 12 && ieq_prefix(header, "content-type")) return "FN_CONTENT_TYPE";
  if (!ieq_prefix(header, "fn-")) return std::nullopt;
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

CallEnv::CallEnv(const char* const* base) {
  for (const char* const* e = base; e != nullptr && *e != nullptr; ++e) {
    // posix_spawn takes char* const*; the strings are never written through these pointers.
    base_.push_back(const_cast<char*>(*e));
    const char* eq = std::strchr(*e, '=');
    base_names_.insert(eq ? std::string_view(*e, static_cast<size_t>(eq - *e))
                          : std::string_view(*e));
  }
}

void CallEnv::add(std::string_view name, std::string_view value) {
  if (!is_generated_env_name(name) || in_base(name)) return;
  for (size_t i = 0; i < used_; ++i) {
    if (added_[i].first == name) {
      added_[i].second.append(", ").append(value);
      return;
    }
  }
  if (used_ == added_.size()) added_.emplace_back();
  added_[used_].first.assign(name);
  added_[used_].second.assign(value);
  ++used_;
}

void CallEnv::add_header(std::string_view header, std::string_view value) {
  if (auto name = env_name_for_header(header)) add(*name, value);
}

char* const* CallEnv::envp() {
  envp_.assign(base_.begin(), base_.end());
  if (lines_.size() < used_) lines_.resize(used_);
  for (size_t i = 0; i < used_; ++i) {
    lines_[i].assign(added_[i].first).append("=").append(added_[i].second);
    envp_.push_back(lines_[i].data());
  }
  envp_.push_back(nullptr);
  return envp_.data();
}

void CallEnv::clear() {
  used_ = 0;
}

}  // namespace hotwrap
