#include "hotwrap/fd.hpp"

#include <fcntl.h>

namespace hotwrap {

Result<Pipe> make_pipe(bool nonblock_read, bool nonblock_write) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) < 0) return sys_fail("pipe2");
  Pipe p{UniqueFd(fds[0]), UniqueFd(fds[1])};
  // A new pipe's ends have no status flags, so F_SETFL needs no F_GETFL first (and ignores the
  // access mode); pipe2(O_NONBLOCK) would make the command's end non-blocking too.
  if (nonblock_read && ::fcntl(p.read.get(), F_SETFL, O_NONBLOCK) < 0) return sys_fail("fcntl");
  if (nonblock_write && ::fcntl(p.write.get(), F_SETFL, O_NONBLOCK) < 0) return sys_fail("fcntl");
  return p;
}

}  // namespace hotwrap
