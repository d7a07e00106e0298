// A raw TCP client for the e2e tests of the TCP contracts (funker, and http without a parser):
// connect, write, optionally half-close, read to EOF or reset. Bounded waits only.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "harness.hpp"

namespace e2e::tcp {

struct Answer {
  std::string body;
  bool eof = false;        // the connection ended cleanly (FIN)
  bool reset = false;      // it ended with an error (RST)
  bool timed_out = false;  // neither within the limit
};

// Funker's caller: connect to 127.0.0.1:`port`, write `request`, half-close (unless told not
// to), read to EOF.
Answer call(uint16_t port, std::string_view request, Ms timeout = 10000ms, bool half_close = true);

}  // namespace e2e::tcp
