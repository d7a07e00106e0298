// Fn's env_name_for_header, CallEnv and BaseEnv: the only way request content becomes part of the
// command's environment. Invariants (real assertions; they abort):
// - an Fn name always matches ^FN_[A-Z0-9_]+$, and is exactly the header upper-cased with '-'
//   turned into '_' (or FN_CONTENT_TYPE for Content-Type): never mangled into another name;
// - a header that is neither Content-Type nor Fn-<...> gets no name;
// - no base variable is ever replaced or shadowed, whatever a call adds (PATH, LD_PRELOAD, a
//   preset FN_ name), and a name that is not a plain identifier, or configures the loader, a shell
//   or a proxy (LD_*, PATH, *_proxy), never reaches the command, whatever the protocol named;
// - repeated names are joined with ", " in arrival order.
//
// Input: a sequence of (name, value) pairs separated by '\n' and ':' (name:value\n...); each pair
// is added both as a header (add_header) and as a raw name (add).
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hotwrap/env.hpp"
#include "hotwrap/http.hpp"
#include "protocols/fn_policy.hpp"

using namespace hotwrap;

namespace {

const char* const kBase[] = {"PATH=/usr/bin:/bin",
                             "LD_PRELOAD=",
                             "HOME=/",
                             "FN_FORMAT=http-stream",
                             "FN_APP_ID=app",
                             "FN_CALL_ID=preset",
                             "FN_CONTENT_TYPE=preset",
                             "FN_X=preset",
                             "NOEQUALS",
                             nullptr};
constexpr size_t kBaseCount = sizeof kBase / sizeof kBase[0] - 1;

bool generated_shape(std::string_view name) {
  if (name.size() <= 3 || !name.starts_with("FN_")) return false;
  for (char c : name) {
    if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

bool base_has(std::string_view name) {
  for (size_t i = 0; i < kBaseCount; ++i) {
    std::string_view kv = kBase[i];
    if (kv.substr(0, kv.find('=')) == name) return true;
  }
  return false;
}

// The mapping as documented, written independently of env.cpp.
std::optional<std::string> expected_name(std::string_view header) {
  if (iequals(header, "Content-Type")) return "FN_CONTENT_TYPE";
  if (header.size() < 3 || !iequals(header.substr(0, 3), "Fn-")) return std::nullopt;
  std::string name = "FN_";
  for (char c : header.substr(3)) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    if (c == '-') c = '_';
    name += c;
  }
  if (!generated_shape(name)) return std::nullopt;
  return name;
}

// Independently of env.cpp: a plain identifier that is none of the names that configure how a
// program runs (a sample of the list: the ones an attacker would reach for first).
bool admissible(std::string_view name) {
  if (name.empty() || (name[0] >= '0' && name[0] <= '9')) return false;
  std::string up;
  for (char c : name) {
    bool ok =
        (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) return false;
    up += (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
  }
  return !base_has(name) && up != "PATH" && !up.starts_with("LD_") && up != "IFS" &&
         up != "BASH_ENV" && !(up.size() >= 6 && up.ends_with("_PROXY"));
}

void check_envp(BaseEnv& base, CallEnv env, const std::map<std::string, std::string>& model) {
  base.admit(env);
  char* const* envp = base.envp(env);
  size_t n = 0;
  while (envp[n] != nullptr) ++n;
  assert(n == kBaseCount + model.size());
  for (size_t i = 0; i < kBaseCount; ++i) {
    assert(envp[i] != nullptr && std::strcmp(envp[i], kBase[i]) == 0);
  }
  std::map<std::string, std::string> seen;
  for (size_t i = kBaseCount; i < n; ++i) {
    std::string_view line = envp[i];
    size_t eq = line.find('=');
    assert(eq != std::string_view::npos);
    std::string name(line.substr(0, eq));
    assert(admissible(name));
    assert(is_safe_call_env_name(name));
    assert(seen.emplace(name, std::string(line.substr(eq + 1))).second);
  }
  // envp holds C strings: a value ends at its first NUL (which cannot start another variable).
  std::map<std::string, std::string> want;
  for (const auto& [name, value] : model) want.emplace(name, value.substr(0, value.find('\0')));
  assert(seen == want);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  static BaseEnv base(kBase);
  CallEnv env;

  std::map<std::string, std::string> model;  // what the call's environment must hold
  auto model_add = [&](const std::string& name, std::string_view value) {
    if (!is_safe_call_env_name(name) || base_has(name)) return;
    auto [it, fresh] = model.emplace(name, std::string(value));
    if (!fresh) it->second.append(", ").append(value);
  };

  while (!in.empty()) {
    size_t nl = in.find('\n');
    std::string_view line = in.substr(0, nl);
    in.remove_prefix(nl == std::string_view::npos ? in.size() : nl + 1);
    size_t colon = line.find(':');
    std::string_view name = line.substr(0, colon);
    std::string_view value = colon == std::string_view::npos ? "" : line.substr(colon + 1);

    std::optional<std::string> mapped = env_name_for_header(name);
    std::optional<std::string> want = expected_name(name);
    assert(mapped == want);
    if (mapped) {
      assert(generated_shape(*mapped));
      assert(is_generated_env_name(*mapped));
    }
    assert(is_generated_env_name(name) == generated_shape(name));

    add_fn_header(env, name, value);
    if (mapped) model_add(*mapped, value);
    env.add(name, value);
    model_add(std::string(name), value);
  }
  check_envp(base, env, model);
  // A later call starts from the base alone.
  check_envp(base, CallEnv(), {});
  return 0;
}
