// The cut points both split-invariance fuzzers feed their input at.
#pragma once

#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <cstddef>
#include <string_view>
#include <vector>

// `stream` cut into pieces whose lengths the fuzzer chooses (the rest in one piece once its bytes
// run out). Mostly small pieces: most cut points fall inside tokens, where parsers break.
inline std::vector<std::string_view> fuzzer_pieces(FuzzedDataProvider& fdp,
                                                   std::string_view stream) {
  std::vector<std::string_view> pieces;
  while (!stream.empty()) {
    size_t n =
        fdp.remaining_bytes() > 0 ? fdp.ConsumeIntegralInRange<size_t>(1, 64) : stream.size();
    n = std::min(n, stream.size());
    pieces.push_back(stream.substr(0, n));
    stream.remove_prefix(n);
  }
  return pieces;
}
