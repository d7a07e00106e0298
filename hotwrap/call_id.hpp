// Call ids hotwrap makes where the platform gives none.
#pragma once

#include <string>

namespace hotwrap {

// A new id: 26 characters of Crockford base32 (as a ULID), the first ten the time in
// milliseconds, so ids sort by time; the rest a random number drawn once per process and
// incremented per id, so ids are unique in the process and, with 80 random bits, across
// containers.
std::string new_call_id();

}  // namespace hotwrap
