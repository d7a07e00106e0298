// Header → environment mapping and the per-call environment.
#include <doctest/doctest.h>

#include <map>
#include <string>
#include <vector>

#include "hotwrap/env.hpp"
#include "protocols/fn_policy.hpp"

using namespace hotwrap;

namespace {
std::map<std::string, std::string> as_map(char* const* envp) {
  std::map<std::string, std::string> m;
  for (; *envp != nullptr; ++envp) {
    std::string kv = *envp;
    auto eq = kv.find('=');
    m[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  return m;
}
}  // namespace

TEST_CASE("header names map to FN_ variables, or to none") {
  struct Row {
    const char* header;
    const char* name;  // nullptr: no variable
  };
  const Row rows[] = {
      {"Fn-Call-Id", "FN_CALL_ID"},
      {"fn-deadline", "FN_DEADLINE"},
      {"Content-Type", "FN_CONTENT_TYPE"},
      {"content-type", "FN_CONTENT_TYPE"},
      {"Fn-Http-Method", "FN_HTTP_METHOD"},
      {"Fn-Http-Request-Url", "FN_HTTP_REQUEST_URL"},
      {"Fn-Http-H-X-My-Header", "FN_HTTP_H_X_MY_HEADER"},
      {"Fn-Intent", "FN_INTENT"},
      {"FN-9", "FN_9"},
      {"Fn-", nullptr},
      {"Fn-A.B", nullptr},
      {"Fn-A=B", nullptr},
      {"Fn-Ä", nullptr},
      {"Accept", nullptr},
      {"Path", nullptr},
      {"LD_PRELOAD", nullptr},
      {"Content-Length", nullptr},
      {"Fn", nullptr},
  };
  for (const Row& r : rows) {
    CAPTURE(r.header);
    auto name = env_name_for_header(r.header);
    if (r.name == nullptr) {
      CHECK_FALSE(name.has_value());
    } else {
      REQUIRE(name.has_value());
      CHECK(name == std::string(r.name));
    }
  }
}

TEST_CASE("the per-call environment") {
  const char* base[] = {"PATH=/bin", "FN_CALL_ID=preset", "HOME=/", nullptr};
  BaseEnv b(base);
  CallEnv env;
  auto envp = [&] {
    CallEnv admitted = env;
    b.admit(admitted);
    return as_map(b.envp(admitted));
  };

  SUBCASE("a call's names are added after the base") {
    add_fn_header(env, "Fn-Deadline", "2026-11-23T18:33:30Z");
    auto m = envp();
    CHECK(m["PATH"] == "/bin");
    CHECK(m["FN_DEADLINE"] == "2026-11-23T18:33:30Z");
  }
  SUBCASE("a variable the container set is never replaced") {
    add_fn_header(env, "Fn-Call-Id", "from-the-caller");
    CHECK(envp()["FN_CALL_ID"] == "preset");
  }
  SUBCASE("names that configure how programs run are never taken from a call") {
    env.add("PATH", "/evil");
    env.add("LD_PRELOAD", "/evil.so");
    env.add("Http_Proxy", "http://evil:3128");
    env.add("bad-name", "x");
    env.add("Http_X_Ok", "fine");
    auto m = envp();
    CHECK(m["PATH"] == "/bin");
    CHECK(m.count("LD_PRELOAD") == 0);
    CHECK(m.count("Http_Proxy") == 0);
    CHECK(m.count("bad-name") == 0);
    CHECK(m["Http_X_Ok"] == "fine");
    CHECK(m.size() == 4);
  }
  SUBCASE("repeated headers join with a comma and a space") {
    add_fn_header(env, "Fn-Http-H-Accept", "text/plain");
    add_fn_header(env, "fn-http-h-accept", "text/html");
    CHECK(envp()["FN_HTTP_H_ACCEPT"] == "text/plain, text/html");
  }
}

TEST_CASE("a call's variables: repeated names join, values may come from the same list") {
  CallEnv env;
  std::string b(900, 'b');
  env.add("B", b);
  std::string joined;
  for (int i = 0; i < 6; ++i) {
    // find() points into the list being added to: its growth must not lose the value.
    std::string_view v = env.find("B").value_or(std::string_view{});
    REQUIRE(v.size() == b.size());
    env.add("A", v);
    joined += (i == 0 ? "" : ", ") + b;
    env.add("B" + std::to_string(i), std::string(300, static_cast<char>('c' + i)));
  }
  CHECK(env.find("A") == joined);
  CHECK(env.find("B") == b);
  CHECK(env.find("B5") == std::string(300, 'h'));
  std::vector<std::string> lines;
  for (const char* l : env.lines()) lines.emplace_back(l);
  REQUIRE(lines.size() == 8);
  CHECK(lines[0] == "B=" + b);
  CHECK(lines[1] == "A=" + joined);
  env.keep_if([](std::string_view n) { return n != "A"; });
  CHECK_FALSE(env.find("A").has_value());
  CHECK(env.find("B3") == std::string(300, 'f'));
}

TEST_CASE("every name the container set is refused to a call, whatever its shape") {
  // admits() skips the lookup for names whose length and end bytes no base name has: each of
  // these must still be found.
  std::vector<std::string> lines;
  std::vector<const char*> base;
  for (int i = 0; i < 2000; ++i) {
    std::string name(static_cast<size_t>(1 + i % 40), 'A');
    name.front() = static_cast<char>('A' + i % 26);
    name.back() = static_cast<char>(i % 3 == 0 ? '_' : 'a' + (i * 7) % 26);
    name[name.size() / 2] = static_cast<char>('0' + i % 10);
    lines.push_back(name + "=v");
  }
  for (const std::string& l : lines) base.push_back(l.c_str());
  base.push_back(nullptr);
  BaseEnv b(base.data());
  for (const std::string& l : lines) {
    std::string_view name(l.data(), l.size() - 2);
    if (is_safe_call_env_name(name)) CHECK_FALSE(b.admits(name));
  }
  CHECK(b.admits("Http_Not_In_The_Base"));
}

TEST_CASE("names a call may set") {
  struct Row {
    const char* name;
    bool safe;
  };
  const Row rows[] = {
      {"FN_CALL_ID", true},
      {"Http_X_Call_Id", true},
      {"_X_AMZN_TRACE_ID", true},
      {"HTTP_ACCEPT", true},
      {"a1", true},
      {"", false},
      {"1A", false},
      {"A-B", false},
      {"A=B", false},
      {"PATH", false},
      {"path", false},
      {"LD_PRELOAD", false},
      {"ld_library_path", false},
      {"IFS", false},
      {"BASH_ENV", false},
      {"BASH_FUNC_x%%", false},
      {"NODE_OPTIONS", false},
      {"PYTHONPATH", false},
      {"HTTP_PROXY", false},
      {"Http_Proxy", false},
      {"https_proxy", false},
      {"X_PROXY", false},
      {"PROXYX", true},
  };
  for (const Row& r : rows) {
    CAPTURE(r.name);
    CHECK(is_safe_call_env_name(r.name) == r.safe);
  }
}
