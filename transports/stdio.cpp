#include "transports/stdio.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace hotwrap {

StdioNonBlocking::~StdioNonBlocking() {
  for (int fd = 0; fd < 2; ++fd) {
    if (saved_[fd] >= 0) ::fcntl(fd, F_SETFL, saved_[fd]);
  }
}

std::expected<void, std::string> StdioNonBlocking::apply() {
  int err_before = ::fcntl(STDERR_FILENO, F_GETFL);
  for (int fd = 0; fd < 2; ++fd) {
    int flags = ::fcntl(fd, F_GETFL);
    if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
      return std::unexpected(std::string("cannot make ") + (fd == 0 ? "stdin" : "stdout") +
                             " non-blocking: " + std::strerror(errno));
    }
    saved_[fd] = flags;
  }
  int err_after = ::fcntl(STDERR_FILENO, F_GETFL);
  stderr_caught_ = err_before >= 0 && (err_before & O_NONBLOCK) == 0 && err_after >= 0 &&
                   (err_after & O_NONBLOCK) != 0;
  return {};
}

}  // namespace hotwrap
