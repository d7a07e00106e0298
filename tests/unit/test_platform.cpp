#include <doctest/doctest.h>

#include <cstring>

#include "app/platform.hpp"

using namespace hotwrap;

namespace {
const char* g_port = nullptr;
const char* fake_getenv(const char* name) {
  return std::strcmp(name, "PORT") == 0 ? g_port : nullptr;
}
}  // namespace

TEST_CASE("choose_platform: funker listens on 9999 unless HOTWRAP_PORT or PORT says otherwise") {
  Config c;
  c.contract = "funker";
  g_port = nullptr;
  auto a = choose_platform(fake_getenv, c);
  REQUIRE(a);
  CHECK(a->kind == PlatformChoice::Kind::Funker);
  CHECK(a->port == 9999);
  g_port = "7000";
  auto b = choose_platform(fake_getenv, c);
  REQUIRE(b);
  CHECK(b->port == 7000);
  c.port = 7001;
  auto d = choose_platform(fake_getenv, c);
  REQUIRE(d);
  CHECK(d->port == 7001);
  g_port = nullptr;
}
