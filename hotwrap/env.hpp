// The command's environment: the container's own, plus a call's variables, named by the call's
// protocol. The rules that protect the container live here, whatever the protocol's naming.
#pragma once

#include <bitset>
#include <cstddef>
#include <initializer_list>
#include <optional>
#include <ranges>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

namespace hotwrap {

// True for a name a call may set: [A-Za-z_][A-Za-z0-9_]*, and not one that configures the
// dynamic loader, a shell, an interpreter or an HTTP client (LD_*, PATH, IFS, BASH_ENV,
// NODE_OPTIONS, PYTHONPATH, ..., and any name ending in _proxy in any case: httpoxy, since
// Python's getproxies() reads `Http_Proxy` as the proxy).
bool is_safe_call_env_name(std::string_view name);

// A call's own variables, as its protocol names them: a value built while the call is decoded
// and handed to Runner::start with the call. A name added twice keeps both values, joined with
// ", " (repeated headers).
class CallEnv {
 public:
  void add(std::string_view name, std::string_view value);
  void clear() {
    vars_.clear();
    text_.clear();
  }
  bool empty() const { return vars_.empty(); }
  // (name, value) views of each variable, in the order first added; valid until the next add.
  auto vars() const {
    return std::views::transform(vars_, [this](const Var& v) {
      return std::pair<std::string_view, std::string_view>(name(v), value(v));
    });
  }
  // Each variable as the command gets it, "NAME=value" and a NUL, handed to exec as it is;
  // valid until the next add.
  auto lines() const {
    return std::views::transform(vars_, [this](const Var& v) { return text_.data() + v.offset; });
  }
  // The value of `name`, or nullopt; valid until the next add.
  std::optional<std::string_view> find(std::string_view name) const;
  // Keeps only the variables `keep` returns true for.
  template <typename Pred>
  void keep_if(Pred keep) {
    std::erase_if(vars_, [&](const Var& v) { return !keep(name(v)); });
  }

 private:
  // One variable: "NAME=value\0" at `offset` in text_. Every line of a call shares one buffer:
  // a call has a dozen or more variables, and this makes them one allocation, not one each.
  struct Var {
    size_t offset;
    size_t size;  // without the NUL
    size_t name_size;
  };
  std::string_view name(const Var& v) const { return {text_.data() + v.offset, v.name_size}; }
  std::string_view value(const Var& v) const {
    return {text_.data() + v.offset + v.name_size + 1, v.size - v.name_size - 1};
  }
  // Appends the line made of `parts` and its NUL to text_.
  Var append_line(std::initializer_list<std::string_view> parts, size_t name_size);

  std::vector<Var> vars_;
  std::string text_;
};

// The container's environment, captured once at start-up, and the envp of each call built on it.
class BaseEnv {
 public:
  explicit BaseEnv(const char* const* base);

  // True when a call may set `name`: a safe name the container has not set itself (a caller
  // must never replace what the container set: PATH, LD_PRELOAD, a preset FN_APP_ID).
  bool admits(std::string_view name) const {
    return is_safe_call_env_name(name) && !(maybe_base(name) && base_names_.contains(name));
  }
  // Drops from `env` every variable the base does not admit.
  void admit(CallEnv& env) const {
    env.keep_if([this](std::string_view n) { return admits(n); });
  }

  // How many variables the base has: the first entries of every envp(), strings that live as
  // long as the process (the environment hotwrap was started with).
  size_t base_size() const { return base_.size(); }
  // Null-terminated envp for posix_spawn: the base, then `env` (already admitted). Valid until
  // the next envp() and while `env` is unchanged.
  char* const* envp(const CallEnv& env);

 private:
  // A call's names are rarely the container's: a bit per (length, first and last byte) answers
  // most of them without hashing the name.
  static size_t signature(std::string_view name) {
    return (name.size() * 31 + static_cast<unsigned char>(name.front()) * 7 +
            static_cast<unsigned char>(name.back())) %
           kSignatures;
  }
  bool maybe_base(std::string_view name) const {
    return !name.empty() && base_signatures_[signature(name)];
  }
  static constexpr size_t kSignatures = 512;

  std::vector<char*> base_;
  std::unordered_set<std::string_view> base_names_;
  std::bitset<kSignatures> base_signatures_;
  std::vector<char*> envp_;
};

}  // namespace hotwrap
