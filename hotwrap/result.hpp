// Failures as values: a system call's name and its errno, carried in std::expected.
#pragma once

#include <cerrno>
#include <cstring>
#include <expected>
#include <string>

namespace hotwrap {

// A failed system call: which call, and the errno it left (captured on the very next line).
struct SysError {
  const char* call;
  int err;

  std::string describe() const { return std::string(call) + ": " + std::strerror(err); }
};

template <typename T>
using Result = std::expected<T, SysError>;

// The errno of the call that just failed, as a value.
inline std::unexpected<SysError> sys_fail(const char* call, int err = errno) {
  return std::unexpected(SysError{call, err});
}

}  // namespace hotwrap
