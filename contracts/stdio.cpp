#include "contracts/stdio.hpp"

#include <fcntl.h>

#include <cerrno>
#include <cstring>

namespace hotwrap {

StdioNonBlocking::~StdioNonBlocking() {
  for (int fd = 0; fd < 2; ++fd) {
    if (saved_[fd] >= 0) ::fcntl(fd, F_SETFL, saved_[fd]);
  }
}

std::expected<void, std::string> StdioNonBlocking::apply() {
  for (int fd = 0; fd < 2; ++fd) {
    int flags = ::fcntl(fd, F_GETFL);
    if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
      return std::unexpected(std::string("cannot make ") + (fd == 0 ? "stdin" : "stdout") +
                             " non-blocking: " + std::strerror(errno));
    }
    saved_[fd] = flags;
  }
  return {};
}

}  // namespace hotwrap
