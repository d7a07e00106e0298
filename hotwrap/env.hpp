// The command's environment: the container's own, plus a call's variables, named by the call's
// protocol. The rules that protect the container live here, whatever the protocol's naming.
#pragma once

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
  void clear() { vars_.clear(); }
  bool empty() const { return vars_.empty(); }
  // Names and values, in the order first added.
  std::span<const std::pair<std::string, std::string>> vars() const { return vars_; }
  // The value of `name`, or nullptr.
  const std::string* find(std::string_view name) const;
  // Keeps only the variables `keep` returns true for.
  template <typename Pred>
  void keep_if(Pred keep) {
    std::erase_if(vars_, [&](const auto& v) { return !keep(v.first); });
  }

 private:
  std::vector<std::pair<std::string, std::string>> vars_;
};

// The container's environment, captured once at start-up, and the envp of each call built on it.
class BaseEnv {
 public:
  explicit BaseEnv(const char* const* base);

  // True when a call may set `name`: a safe name the container has not set itself (a caller
  // must never replace what the container set: PATH, LD_PRELOAD, a preset FN_APP_ID).
  bool admits(std::string_view name) const {
    return is_safe_call_env_name(name) && !base_names_.contains(name);
  }
  // Drops from `env` every variable the base does not admit.
  void admit(CallEnv& env) const {
    env.keep_if([this](std::string_view n) { return admits(n); });
  }

  // Null-terminated envp for posix_spawn: the base, then `env` (already admitted). Valid until
  // the next envp().
  char* const* envp(const CallEnv& env);

 private:
  std::vector<char*> base_;
  std::unordered_set<std::string_view> base_names_;
  std::vector<std::string> lines_;
  std::vector<char*> envp_;
};

}  // namespace hotwrap
