#include "hotwrap/env.hpp"

#include <algorithm>
#include <array>
#include <cstring>

namespace hotwrap {

namespace {

char upper(char c) {
  return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c;
}

bool iends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() &&
         std::equal(suffix.begin(), suffix.end(), s.end() - static_cast<long>(suffix.size()),
                    [](char a, char b) { return upper(a) == upper(b); });
}

// Exact names (compared upper-cased) a program reads as configuration of how it runs, rather
// than as data: a request must never be able to set them, even when the container did not.
constexpr std::string_view kUnsafeNames[] = {
    "PATH",          "IFS",
    "ENV",           "BASH_ENV",
    "SHELLOPTS",     "BASHOPTS",
    "PS4",           "HOME",
    "SHELL",         "CDPATH",
    "GLOBIGNORE",    "NODE_OPTIONS",
    "NODE_PATH",     "PYTHONPATH",
    "PYTHONSTARTUP", "PYTHONHOME",
    "PERL5LIB",      "PERL5OPT",
    "PERLLIB",       "RUBYOPT",
    "RUBYLIB",       "JAVA_TOOL_OPTIONS",
    "HOSTALIASES",   "LOCALDOMAIN",
    "RES_OPTIONS",   "TMPDIR",
    "GCONV_PATH",    "MALLOC_CHECK_",
};
constexpr size_t kLongestUnsafeName =
    std::ranges::max(kUnsafeNames, {}, &std::string_view::size).size();
// The bytes of a variable name: [A-Za-z0-9_].
constexpr auto kNameByte = [] {
  std::array<bool, 256> t{};
  for (int c = 0; c < 256; ++c) {
    t[c] = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  }
  return t;
}();
// Prefixes (upper-cased) of whole families of such names.
constexpr std::string_view kUnsafePrefixes[] = {"LD_", "BASH_FUNC_", "GLIBC_", "DYLD_"};

}  // namespace

bool is_safe_call_env_name(std::string_view name) {
  if (name.empty() || (name[0] >= '0' && name[0] <= '9')) return false;
  for (char c : name) {
    if (!kNameByte[static_cast<unsigned char>(c)]) return false;
  }
  // Compared case-insensitively in place: every variable of every call passes here, and an
  // upper-cased copy of each name was an allocation for the longer ones.
  auto iequal = [](std::string_view a, std::string_view upper_b) {
    return std::equal(a.begin(), a.end(), upper_b.begin(),
                      [](char x, char y) { return upper(x) == y; });
  };
  // Most of a call's names (Http_Content_Type, HOTWRAP_CALL_ID) are longer than any unsafe one
  // and skip the list; the others are compared only where length and first letter agree.
  if (name.size() <= kLongestUnsafeName) {
    char first = upper(name[0]);
    for (std::string_view n : kUnsafeNames) {
      if (n.size() == name.size() && n[0] == first && iequal(name, n)) return false;
    }
  }
  for (std::string_view p : kUnsafePrefixes) {
    if (name.size() >= p.size() && upper(name[0]) == p[0] && iequal(name.substr(0, p.size()), p))
      return false;
  }
  return upper(name.back()) != 'Y' || !iends_with(name, "_proxy");
}

void CallEnv::add(std::string_view name, std::string_view value) {
  for (auto& [n, v] : vars_) {
    if (n == name) {
      v.append(", ").append(value);
      return;
    }
  }
  // A call's protocol, the runner and CGI add a dozen or more: one allocation for the list
  // instead of one at each doubling.
  if (vars_.capacity() == 0) vars_.reserve(16);
  vars_.emplace_back(name, value);
}

const std::string* CallEnv::find(std::string_view name) const {
  for (const auto& [n, v] : vars_) {
    if (n == name) return &v;
  }
  return nullptr;
}

BaseEnv::BaseEnv(const char* const* base) {
  for (const char* const* e = base; e != nullptr && *e != nullptr; ++e) {
    // posix_spawn takes char* const*; the strings are never written through these pointers.
    base_.push_back(const_cast<char*>(*e));
    const char* eq = std::strchr(*e, '=');
    base_names_.insert(eq ? std::string_view(*e, static_cast<size_t>(eq - *e))
                          : std::string_view(*e));
  }
}

char* const* BaseEnv::envp(const CallEnv& env) {
  envp_.assign(base_.begin(), base_.end());
  auto vars = env.vars();
  if (lines_.size() < vars.size()) lines_.resize(vars.size());
  for (size_t i = 0; i < vars.size(); ++i) {
    lines_[i].assign(vars[i].first).append("=").append(vars[i].second);
    envp_.push_back(lines_[i].data());
  }
  envp_.push_back(nullptr);
  return envp_.data();
}

}  // namespace hotwrap
