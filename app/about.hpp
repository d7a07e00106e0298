// What hotwrap says about itself: --version and --licenses.
#pragma once

#include <string>
#include <string_view>

namespace hotwrap {

// "hotwrap <version> (commit <id>, linux/<arch>)\n": the architecture is the one compiled for,
// so a binary copied into the wrong image says so.
std::string version_text();

// The notices of NOTICE: hotwrap's licence, and those of glibc, libstdc++, libevent, llhttp and
// nlohmann/json, which the static binary contains.
std::string_view licenses_text();

}  // namespace hotwrap
