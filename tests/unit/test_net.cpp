// net: host:port parsing with exact errors; listeners, connections and accepted sockets over real
// loopback sockets (IPv4, IPv6 through the dual-stack listener, unix), their flags, and failures.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "hotwrap/net.hpp"

using namespace hotwrap;

namespace {

// Waits (bounded) until `fd` is ready for `events`.
void wait_for(int fd, short events) {
  pollfd p{fd, events, 0};
  REQUIRE(::poll(&p, 1, 5000) == 1);
}

void check_flags(int fd) {
  CHECK((::fcntl(fd, F_GETFL) & O_NONBLOCK) != 0);
  CHECK((::fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
}

bool nodelay(int fd) {
  int on = 0;
  socklen_t len = sizeof on;
  REQUIRE(::getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, &len) == 0);
  return on != 0;
}

// Writes `msg` on `from` and reads it whole on `to`.
void pass(int from, int to, const std::string& msg) {
  REQUIRE(::write(from, msg.data(), msg.size()) == static_cast<ssize_t>(msg.size()));
  std::string got;
  while (got.size() < msg.size()) {
    wait_for(to, POLLIN);
    char buf[64];
    ssize_t n = ::read(to, buf, sizeof buf);
    REQUIRE(n > 0);
    got.append(buf, static_cast<size_t>(n));
  }
  CHECK(got == msg);
}

// A connection from `host` to the listener, accepted; bytes pass both ways.
void round_trip(const TcpListener& l, const std::string& host) {
  CAPTURE(host);
  auto client = connect_tcp(host, l.port);
  REQUIRE(client.has_value());
  check_flags(client->get());
  CHECK(nodelay(client->get()));
  wait_for(client->get(), POLLOUT);
  CHECK(connect_result(client->get()).has_value());
  wait_for(l.fd.get(), POLLIN);
  auto server = accept_connection(l.fd.get());
  REQUIRE(server.has_value());
  check_flags(server->get());
  CHECK(nodelay(server->get()));
  pass(client->get(), server->get(), "ping from " + host);
  pass(server->get(), client->get(), "pong");
}

bool host_has_ipv6_loopback() {
  std::ifstream f("/proc/net/if_inet6");
  std::string line;
  while (std::getline(f, line)) {
    if (line.starts_with("00000000000000000000000000000001")) return true;
  }
  return false;
}

// A port nothing listens on: one the kernel just gave out and was closed again.
uint16_t closed_port() {
  auto l = listen_tcp(0);
  REQUIRE(l.has_value());
  return l->port;
}

}  // namespace

TEST_CASE("parse_host_port: accepted forms") {
  struct Row {
    const char* text;
    const char* host;
    uint16_t port;
  };
  const Row rows[] = {
      {"127.0.0.1:9001", "127.0.0.1", 9001}, {"localhost:9001", "localhost", 9001},
      {"LocalHost:1", "LocalHost", 1},       {"[::1]:9001", "::1", 9001},
      {"[fd00::2]:65535", "fd00::2", 65535}, {"10.0.0.7:80", "10.0.0.7", 80},
  };
  for (const Row& row : rows) {
    CAPTURE(row.text);
    auto hp = parse_host_port(row.text);
    REQUIRE(hp.has_value());
    CHECK(hp->host == row.host);
    CHECK(hp->port == row.port);
  }
}

TEST_CASE("parse_host_port: exact errors") {
  struct Row {
    const char* text;
    const char* error;
  };
  const Row rows[] = {
      {"", "empty; expected host:port, e.g. 127.0.0.1:9001, [::1]:9001 or localhost:9001"},
      {"127.0.0.1",
       "no port; expected host:port, e.g. 127.0.0.1:9001, [::1]:9001 or localhost:9001"},
      {":9001", "no host before ':port', e.g. 127.0.0.1:9001, [::1]:9001 or localhost:9001"},
      {"127.0.0.1:", "port '' is not a number from 1 to 65535"},
      {"127.0.0.1:0", "port '0' is not a number from 1 to 65535"},
      {"127.0.0.1:65536", "port '65536' is not a number from 1 to 65535"},
      {"127.0.0.1:90x", "port '90x' is not a number from 1 to 65535"},
      {"127.0.0.1:+90", "port '+90' is not a number from 1 to 65535"},
      {"127.0.0.1:-1", "port '-1' is not a number from 1 to 65535"},
      {"::1:9001", "an IPv6 address must be in brackets, e.g. [::1]:9001"},
      {"[::1:9001", "an IPv6 address needs its closing ']', e.g. [::1]:9001"},
      {"[::1]9001", "no ':port' after ']', e.g. [::1]:9001"},
      {"[::1]", "no ':port' after ']', e.g. [::1]:9001"},
      {"[]:9001", "no host before ':port', e.g. 127.0.0.1:9001, [::1]:9001 or localhost:9001"},
      {"[::g]:9001", "'::g' is not a numeric IPv6 address"},
      {"[127.0.0.1]:9001", "'127.0.0.1' is not a numeric IPv6 address"},
      {"[localhost]:9001", "'localhost' is not a numeric IPv6 address"},
      {"runtime.example:9001",
       "'runtime.example' is a host name, and hotwrap cannot resolve names: use a numeric address "
       "or localhost, e.g. 127.0.0.1:9001, [::1]:9001 or localhost:9001"},
      {"127.1:9001",
       "'127.1' is a host name, and hotwrap cannot resolve names: use a numeric address or "
       "localhost, e.g. 127.0.0.1:9001, [::1]:9001 or localhost:9001"},
  };
  for (const Row& row : rows) {
    CAPTURE(row.text);
    auto hp = parse_host_port(row.text);
    REQUIRE_FALSE(hp.has_value());
    CHECK(hp.error() == row.error);
  }
}

TEST_CASE("a TCP listener on port 0 takes IPv4 and IPv6 loopback connections") {
  auto l = listen_tcp(0);
  REQUIRE(l.has_value());
  CHECK(l->port != 0);
  check_flags(l->fd.get());
  round_trip(*l, "127.0.0.1");
  round_trip(*l, "localhost");
  if (!host_has_ipv6_loopback()) {
    MESSAGE("this host has no ::1: the IPv6 half of the dual-stack listener is not tested");
    CHECK_FALSE(l->dual_stack);
    return;
  }
  CHECK(l->dual_stack);
  round_trip(*l, "::1");
}

TEST_CASE("accept with nothing pending says EAGAIN") {
  auto l = listen_tcp(0);
  REQUIRE(l.has_value());
  auto c = accept_connection(l->fd.get());
  REQUIRE_FALSE(c.has_value());
  CHECK(std::string(c.error().call) == "accept4");
  CHECK(c.error().err == EAGAIN);
  CHECK_FALSE(out_of_descriptors(c.error().err));
}

TEST_CASE("out_of_descriptors: the errnos that call for a pause") {
  for (int err : {EMFILE, ENFILE, ENOBUFS, ENOMEM}) CHECK(out_of_descriptors(err));
  for (int err : {EAGAIN, EINTR, ECONNABORTED, EBADF, EINVAL}) CHECK_FALSE(out_of_descriptors(err));
}

TEST_CASE("TCP failures") {
  SUBCASE("a port in use") {
    auto l = listen_tcp(0);
    REQUIRE(l.has_value());
    auto again = listen_tcp(l->port);
    REQUIRE_FALSE(again.has_value());
    CHECK(std::string(again.error().call) == "bind");
    CHECK(again.error().err == EADDRINUSE);
  }
  SUBCASE("nothing listens: refused, at once or once connected") {
    auto c = connect_tcp("127.0.0.1", closed_port());
    if (c.has_value()) {
      wait_for(c->get(), POLLOUT);
      auto r = connect_result(c->get());
      REQUIRE_FALSE(r.has_value());
      CHECK(std::string(r.error().call) == "connect");
      CHECK(r.error().err == ECONNREFUSED);
    } else {
      CHECK(c.error().err == ECONNREFUSED);
    }
  }
  SUBCASE("a host name is not connected to") {
    for (const char* host : {"runtime.example", "", "127.0.0.1:9001", "[::1]"}) {
      CAPTURE(host);
      auto c = connect_tcp(host, 9001);
      REQUIRE_FALSE(c.has_value());
      CHECK(std::string(c.error().call) == "inet_pton");
      CHECK(c.error().err == EINVAL);
    }
  }
}

TEST_CASE("unix sockets") {
  char dir_template[] = "/tmp/hotwrap-net-XXXXXX";
  REQUIRE(::mkdtemp(dir_template) != nullptr);
  std::string dir = dir_template;
  std::string path = dir + "/s.sock";

  SUBCASE("listen, connect, accept, exchange") {
    auto l = listen_unix(path);
    REQUIRE(l.has_value());
    check_flags(l->get());
    auto client = connect_unix(path);
    REQUIRE(client.has_value());
    check_flags(client->get());
    wait_for(l->get(), POLLIN);
    auto server = accept_connection(l->get());
    REQUIRE(server.has_value());
    check_flags(server->get());
    pass(client->get(), server->get(), "ping");
    pass(server->get(), client->get(), "pong");
    SUBCASE("the path is taken") {
      auto again = listen_unix(path);
      REQUIRE_FALSE(again.has_value());
      CHECK(std::string(again.error().call) == "bind");
      CHECK(again.error().err == EADDRINUSE);
    }
  }
  SUBCASE("no listener") {
    auto c = connect_unix(path);
    REQUIRE_FALSE(c.has_value());
    CHECK(std::string(c.error().call) == "connect");
    CHECK(c.error().err == ENOENT);
  }
  SUBCASE("paths that cannot be a socket address") {
    std::string longest = dir + "/" + std::string(107 - dir.size() - 1, 'a');
    REQUIRE(longest.size() == 107);
    CHECK(listen_unix(longest).has_value());
    ::unlink(longest.c_str());
    std::string too_long = longest + "a";
    CHECK(listen_unix(too_long).error().err == ENAMETOOLONG);
    CHECK(connect_unix(too_long).error().err == ENAMETOOLONG);
    CHECK(listen_unix("").error().err == EINVAL);
    CHECK(connect_unix("").error().err == EINVAL);
  }
  ::unlink(path.c_str());
  ::rmdir(dir.c_str());
}
