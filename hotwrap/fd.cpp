#include "hotwrap/fd.hpp"

#include <fcntl.h>

namespace hotwrap {

Result<void> set_nonblocking(int fd, bool on) {
  int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0) return sys_fail("fcntl(F_GETFL)");
  int wanted = on ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK);
  if (wanted != flags && ::fcntl(fd, F_SETFL, wanted) < 0) return sys_fail("fcntl(F_SETFL)");
  return {};
}

Result<Pipe> make_pipe(bool nonblock_read, bool nonblock_write) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) < 0) return sys_fail("pipe2");
  Pipe p{UniqueFd(fds[0]), UniqueFd(fds[1])};
  if (nonblock_read) {
    if (auto r = set_nonblocking(p.read.get(), true); !r) return std::unexpected(r.error());
  }
  if (nonblock_write) {
    if (auto r = set_nonblocking(p.write.get(), true); !r) return std::unexpected(r.error());
  }
  return p;
}

}  // namespace hotwrap
