#include "hotwrap/env.hpp"

#include <algorithm>
#include <cstring>
#include <functional>
#include <initializer_list>
#include <iterator>

namespace hotwrap {

namespace {

constexpr char upper(char c) {
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
constexpr size_t kUnsafeCount = std::size(kUnsafeNames);
constexpr size_t kLongestUnsafeName =
    std::ranges::max(kUnsafeNames, {}, &std::string_view::size).size();
// kUnsafeNames by length: names[first[n] .. first[n + 1]) are those of n bytes. A name is
// compared only with the two or three of its own length: every variable of every call is checked.
struct UnsafeByLength {
  std::string_view names[kUnsafeCount];
  unsigned char first[kLongestUnsafeName + 2];
};
constexpr UnsafeByLength kUnsafeByLength = [] {
  UnsafeByLength t{};
  size_t k = 0;
  for (size_t len = 0; len <= kLongestUnsafeName; ++len) {
    t.first[len] = static_cast<unsigned char>(k);
    for (std::string_view n : kUnsafeNames) {
      if (n.size() == len) t.names[k++] = n;
    }
  }
  t.first[kLongestUnsafeName + 1] = static_cast<unsigned char>(k);
  return t;
}();
// Each byte of a variable name ([A-Za-z0-9_]) upper-cased; 0 for a byte a name cannot hold.
constexpr struct NameBytes {
  char upper[256];
} kNameByte = [] {
  NameBytes t{};
  for (int c = 0; c < 256; ++c) {
    bool ok =
        (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    t.upper[c] = ok ? upper(static_cast<char>(c)) : '\0';
  }
  return t;
}();
// Prefixes (upper-cased) of whole families of such names.
constexpr std::string_view kUnsafePrefixes[] = {"LD_", "BASH_FUNC_", "GLIBC_", "DYLD_"};

}  // namespace

bool is_safe_call_env_name(std::string_view name) {
  if (name.empty() || (name[0] >= '0' && name[0] <= '9')) return false;
  // The name upper-cased as far as any unsafe name or prefix reaches, checked byte by byte; the
  // rest only checked.
  char up[kLongestUnsafeName]{};
  const size_t n = std::min(name.size(), sizeof up);
  const char* c = name.data();  // not name[i]: a checked access per byte doubles the loop
  for (size_t i = 0; i < n; ++i) {
    up[i] = kNameByte.upper[static_cast<unsigned char>(c[i])];
    if (up[i] == '\0') return false;
  }
  for (size_t i = n; i < name.size(); ++i) {
    if (kNameByte.upper[static_cast<unsigned char>(c[i])] == '\0') return false;
  }
  // memcmp, not string_view's comparisons: with the sizes known it is a couple of instructions.
  if (name.size() <= kLongestUnsafeName) {
    const UnsafeByLength& t = kUnsafeByLength;
    for (size_t i = t.first[n]; i < t.first[n + 1]; ++i) {
      if (std::memcmp(up, t.names[i].data(), n) == 0) return false;
    }
  }
  for (std::string_view p : kUnsafePrefixes) {
    if (n >= p.size() && up[0] == p[0] && std::memcmp(up, p.data(), p.size()) == 0) return false;
  }
  return (name.back() | 0x20) != 'y' || !iends_with(name, "_proxy");
}

CallEnv::Var CallEnv::append_line(std::initializer_list<std::string_view> parts, size_t name_size) {
  size_t offset = text_.size();
  size_t size = 0;
  for (std::string_view p : parts) size += p.size();
  if (text_.capacity() < offset + size + 1) {
    // A part may lie in text_ itself (a repeated name's first values): growing would move it.
    std::less<const char*> before;
    bool inside = std::ranges::any_of(parts, [&](std::string_view p) {
      return !p.empty() && !before(p.data(), text_.data()) &&
             before(p.data(), text_.data() + offset);
    });
    std::string copy;
    if (inside) {
      for (std::string_view p : parts) copy.append(p);
    }
    // A call's variables fit in the first allocation nearly always.
    text_.reserve(std::max<size_t>(2 * (offset + size + 1), 1024));
    if (inside) {
      text_.append(copy).push_back('\0');
      return Var{offset, size, name_size};
    }
  }
  // Capacity is there: the parts are copied in one pass, without append's checks for each.
  text_.resize_and_overwrite(offset + size + 1, [&](char* buf, size_t n) {
    char* at = buf + offset;
    for (std::string_view p : parts) at = std::copy(p.begin(), p.end(), at);
    *at = '\0';
    return n;
  });
  return Var{offset, size, name_size};
}

void CallEnv::add(std::string_view name, std::string_view value) {
  for (Var& v : vars_) {
    if (v.name_size == name.size() && this->name(v) == name) {
      // The joined line goes at the end; the old one stays as dead bytes until the call ends.
      v = append_line({name, "=", this->value(v), ", ", value}, name.size());
      return;
    }
  }
  // A call's protocol, the runner and CGI add a dozen or more: one allocation for the list
  // instead of one at each doubling.
  if (vars_.capacity() == 0) vars_.reserve(16);
  vars_.push_back(append_line({name, "=", value}, name.size()));
}

std::optional<std::string_view> CallEnv::find(std::string_view name) const {
  for (const Var& v : vars_) {
    if (this->name(v) == name) return value(v);
  }
  return std::nullopt;
}

BaseEnv::BaseEnv(const char* const* base) {
  for (const char* const* e = base; e != nullptr && *e != nullptr; ++e) {
    // posix_spawn takes char* const*; the strings are never written through these pointers.
    base_.push_back(const_cast<char*>(*e));
    const char* eq = std::strchr(*e, '=');
    std::string_view name =
        eq ? std::string_view(*e, static_cast<size_t>(eq - *e)) : std::string_view(*e);
    base_names_.insert(name);
    if (!name.empty()) base_signatures_.set(signature(name));
  }
}

char* const* BaseEnv::envp(const CallEnv& env) {
  envp_.assign(base_.begin(), base_.end());
  // posix_spawn and execve take char* const*; the lines are never written through these.
  for (const char* line : env.lines()) envp_.push_back(const_cast<char*>(line));
  envp_.push_back(nullptr);
  return envp_.data();
}

}  // namespace hotwrap
