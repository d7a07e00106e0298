// What the build knows and the sources do not: defined in build_info.cpp, which
// cmake/WriteBuildInfo.cmake generates in the build directory.
#pragma once

namespace hotwrap::build_info {

// The commit the binary was built from: 12 hex digits, "-dirty" when tracked files differed from
// it, or "unknown" for a build without git.
extern const char commit[];
// NOTICE: hotwrap's licence and those of what the static binary contains.
extern const char notice[];

}  // namespace hotwrap::build_info
