// The command's environment: the container's own, plus FN_* names generated per call.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

namespace hotwrap {

// The variable a request header becomes, as the old wrapper named them: `Fn-<X>` → `FN_<X>`
// (upper case, `-` → `_`) and `Content-Type` → `FN_CONTENT_TYPE`. Any other header, or a name that
// would not be [A-Z0-9_]+, has no variable (it is skipped, never mangled into another name).
std::optional<std::string> env_name_for_header(std::string_view header);

// True for FN_ followed by one or more of [A-Z0-9_].
bool is_generated_env_name(std::string_view name);

// Per-call environment. The base is captured once; each call adds its own names.
class CallEnv {
 public:
  explicit CallEnv(const char* const* base);

  // Adds `name=value` for this call. Ignored when `name` is not a generated name (FN_...) or the
  // base environment already has it: a caller must never replace what the container set.
  // A name added twice keeps both values, joined with ", " (repeated headers).
  void add(std::string_view name, std::string_view value);

  // Maps a request header through env_name_for_header and adds it.
  void add_header(std::string_view header, std::string_view value);

  // Null-terminated envp for posix_spawn: the base, then this call's names. Valid until the next
  // add() or clear().
  char* const* envp();

  // Forgets this call's names; the storage is kept for the next call.
  void clear();

  bool in_base(std::string_view name) const { return base_names_.contains(name); }

  // This call's names and values, in the order first added.
  std::span<const std::pair<std::string, std::string>> added() const {
    return {added_.data(), used_};
  }

 private:
  std::vector<char*> base_;
  std::unordered_set<std::string_view> base_names_;
  std::vector<std::pair<std::string, std::string>> added_;  // (name, value), first-seen order
  size_t used_ = 0;
  std::vector<std::string> lines_;
  std::vector<char*> envp_;
};

}  // namespace hotwrap
