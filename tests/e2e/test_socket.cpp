// The socket handshake the Fn agent relies on (contract §1.2) and FN_LISTENER validation.
#include "harness.hpp"

#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>

using namespace e2e;

namespace {

// What the agent checks after the inotify event: lsnr.sock is a symlink whose target is a bare
// file name in the same directory, and what it resolves to is a socket with mode 0666.
void check_handshake(const Server& srv) {
  struct stat lst{};
  REQUIRE(::lstat(srv.socket_path().c_str(), &lst) == 0);
  CHECK(S_ISLNK(lst.st_mode));
  char target[PATH_MAX] = {};
  ssize_t n = ::readlink(srv.socket_path().c_str(), target, sizeof target - 1);
  REQUIRE(n > 0);
  CHECK(std::string(target, static_cast<std::size_t>(n)) == "phonylsnr.sock");

  struct stat st{};
  REQUIRE(::stat(srv.phony_path().c_str(), &st) == 0);
  CHECK(S_ISSOCK(st.st_mode));
  CHECK((st.st_mode & 07777) == 0666);
}

void check_serves(const Server& srv) {
  Conn c = srv.connect();
  Response r = c.call({.body = "through the symlink"});
  INFO(r);
  CHECK(r.status == 200);
  CHECK(r.body == "through the symlink");
}

// Exactly one non-empty line, newline-terminated.
void check_one_line(const std::string& err) {
  INFO("stderr: " << printable(err));
  CHECK(!err.empty());
  CHECK(split_lines(err).size() == 1);
  CHECK(err.ends_with("\n"));
}

}  // namespace

TEST_CASE("socket: phony socket with mode 0666 behind a relative lsnr.sock symlink") {
  Server srv({"cat"});
  MESSAGE("hotwrap ready (lsnr.sock created) " << srv.ready_time().count() << " ms after spawn");
  // Nothing slow comes before listening (a name lookup, waiting on the command): ready in a small
  // part of the agent's start timeout (5 s) even on a loaded machine or in a sanitizer build.
  CHECK(srv.ready_time() < 1000ms);
  check_handshake(srv);
  check_serves(srv);
}

TEST_CASE("socket: stale socket files are removed before binding") {
  Server::Options o;
  o.argv = {"cat"};
  SUBCASE("regular files in place of both names") {
    o.before_spawn = [](const std::string& dir) {
      for (const char* name : {"/lsnr.sock", "/phonylsnr.sock"}) {
        int fd = ::open((dir + name).c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
        REQUIRE(fd >= 0);
        ::close(fd);
      }
    };
  }
  SUBCASE("a dead socket and its symlink left by a killed container") {
    o.before_spawn = [](const std::string& dir) {
      int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
      REQUIRE(fd >= 0);
      sockaddr_un addr{};
      addr.sun_family = AF_UNIX;
      std::string p = dir + "/phonylsnr.sock";
      std::memcpy(addr.sun_path, p.c_str(), p.size() + 1);
      REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
      ::close(fd);
      REQUIRE(::symlink("phonylsnr.sock", (dir + "/lsnr.sock").c_str()) == 0);
    };
  }
  Server srv(std::move(o));
  check_handshake(srv);
  check_serves(srv);
}

TEST_CASE("socket: a bad FN_LISTENER stops start-up with one line and exit 2") {
  std::string listener;
  SUBCASE("no unix: prefix") {
    listener = "/tmp/lsnr.sock";
  }
  SUBCASE("another scheme") {
    listener = "tcp:127.0.0.1:8080";
  }
  SUBCASE("path longer than 107 bytes") {
    listener = "unix:/tmp/" + std::string(110, 'd') + "/lsnr.sock";
  }
  SUBCASE("directory missing") {
    listener = "unix:/tmp/hwe2e-no-such-dir-" + std::to_string(::getpid()) + "/lsnr.sock";
  }
  SUBCASE("directory under a regular file") {
    listener = "unix:/etc/passwd/x/lsnr.sock";
  }
  SUBCASE("read-only directory") {
    // Root may write anywhere on a normal file system; /proc refuses new files even to root.
    // Verify that first, so the case really is "not writable".
    int fd = ::open("/proc/hwe2e-probe", O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
    if (fd >= 0) {
      ::close(fd);
      ::unlink("/proc/hwe2e-probe");
      FAIL("/proc is writable here: cannot test an unwritable directory");
    }
    listener = "unix:/proc/lsnr.sock";
  }
  CAPTURE(listener);
  Server::Options o;
  o.argv = {"cat"};
  o.env = {{"FN_FORMAT", "http-stream"}, {"FN_LISTENER", listener}};
  o.http_stream_defaults = false;
  RunResult r = run_to_exit(std::move(o));
  REQUIRE_MESSAGE(r.status.has_value(),
                  "hotwrap still running with a bad FN_LISTENER; stderr: " << r.err);
  INFO(describe_status(r.status));
  CHECK(exit_code(r.status) == 2);
  check_one_line(r.err);
}

TEST_CASE("socket: FN_LISTENER alone selects http-stream") {
  Server::Options o;
  o.argv = {"cat"};
  o.unset = {"FN_FORMAT"};
  Server srv(std::move(o));
  check_handshake(srv);
  check_serves(srv);
}
