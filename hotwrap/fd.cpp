#include "hotwrap/fd.hpp"

#include <fcntl.h>

namespace hotwrap {

Result<Pipe> make_pipe(bool nonblock_read, bool nonblock_write) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) < 0) return sys_fail("pipe2");
  Pipe p{UniqueFd(fds[0]), UniqueFd(fds[1])};
  // pipe2(O_NONBLOCK) would make the command's end non-blocking too.
  if (nonblock_read) {
    if (auto r = set_nonblocking(p.read.get()); !r) return std::unexpected(r.error());
  }
  if (nonblock_write) {
    if (auto r = set_nonblocking(p.write.get()); !r) return std::unexpected(r.error());
  }
  return p;
}

Result<void> set_nonblocking(int fd) {
  // No other status flags to keep, so F_SETFL needs no F_GETFL first (and ignores the access
  // mode).
  if (::fcntl(fd, F_SETFL, O_NONBLOCK) < 0) return sys_fail("fcntl");
  return {};
}

}  // namespace hotwrap
