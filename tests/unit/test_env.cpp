// Header → environment mapping and the per-call environment.
#include <doctest/doctest.h>

#include <map>
#include <string>

#include "hotwrap/env.hpp"

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
  CallEnv env(base);

  SUBCASE("generated names are added after the base") {
    env.add_header("Fn-Deadline", "2026-11-23T18:33:30Z");
    auto m = as_map(env.envp());
    CHECK(m["PATH"] == "/bin");
    CHECK(m["FN_DEADLINE"] == "2026-11-23T18:33:30Z");
  }
  SUBCASE("a variable the container set is never replaced") {
    env.add_header("Fn-Call-Id", "from-the-caller");
    CHECK(as_map(env.envp())["FN_CALL_ID"] == "preset");
  }
  SUBCASE("nothing outside FN_ can be generated") {
    env.add("PATH", "/evil");
    env.add("LD_PRELOAD", "/evil.so");
    env.add("FN_lower", "x");
    auto m = as_map(env.envp());
    CHECK(m["PATH"] == "/bin");
    CHECK(m.count("LD_PRELOAD") == 0);
    CHECK(m.count("FN_lower") == 0);
    CHECK(m.size() == 3);
  }
  SUBCASE("repeated headers join with a comma and a space") {
    env.add_header("Fn-Http-H-Accept", "text/plain");
    env.add_header("fn-http-h-accept", "text/html");
    CHECK(as_map(env.envp())["FN_HTTP_H_ACCEPT"] == "text/plain, text/html");
  }
  SUBCASE("clear() forgets the previous call") {
    env.add_header("Fn-Intent", "httprequest");
    env.clear();
    env.add_header("Fn-Deadline", "x");
    auto m = as_map(env.envp());
    CHECK(m.count("FN_INTENT") == 0);
    CHECK(m["FN_DEADLINE"] == "x");
  }
}
