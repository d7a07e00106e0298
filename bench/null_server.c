/* A null server: answers POST /call like hotwrap running `cat` would, but with no command, no
 * event loop and no copy beyond the socket. It bounds what the client and the socket cost, so the
 * client can be shown not to be the bottleneck. Framing as hotwrap's: the body is held up to
 * 1 MiB and answered with Content-Length; past that the response streams chunked.
 *
 * With --spawn it runs `cat` for each call (posix_spawn, pipes, waitpid: the bare loop's code) and
 * answers with its output: the least any server adds to spawning the command itself, the floor of
 * the per-call rows. A body over 1 MiB is relayed as hotwrap relays it: one thread, cat's pipes
 * grown to 1 MiB, what cat writes sent on as chunks while the body still arrives, read() and
 * write() with a 256 KiB buffer, no event loop: the floor of the streaming rows.
 *
 *   null_server [--spawn] ADDRESS   (a unix socket path, or tcp:PORT on 127.0.0.1; serves
 *                                    connections one after the other until killed) */
#include "common.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>

#include "bare_spawn.h"

#define HOLD (1u << 20)

static int spawn_cat; /* --spawn */

/* ---- --spawn relay: a streaming body through cat ----------------------------------------- */

static char relay_buf[256 << 10];

/* Sends what cat has written so far as chunks; 0 once cat's stdout is at EOF. */
static int relay_out(int fd, bare_child* c) {
  for (;;) {
    ssize_t n = read(c->out, relay_buf, sizeof relay_buf);
    if (n > 0) {
      char sz[24];
      int sn = snprintf(sz, sizeof sz, "%zx\r\n", (size_t)n);
      struct iovec iov[3] = {{sz, (size_t)sn}, {relay_buf, (size_t)n}, {"\r\n", 2}};
      writev_all(fd, iov, 3);
      continue;
    }
    if (n == 0) return 0;
    if (errno == EINTR) continue;
    if (errno == EAGAIN) return 1;
    die("read cat: %s", strerror(errno));
  }
}

/* Waits until `other` is ready for `ev`, sending cat's output meanwhile. */
static void relay_wait(int fd, bare_child* c, int other, short ev) {
  for (;;) {
    struct pollfd p[2] = {{other, ev, 0}, {c->out, POLLIN, 0}};
    if (poll(p, 2, -1) < 0 && errno != EINTR) die("poll: %s", strerror(errno));
    if (p[1].revents) relay_out(fd, c);
    if (p[0].revents) return;
  }
}

static void relay_in(int fd, bare_child* c, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = write(c->in, p, n);
    if (w > 0) {
      p += w;
      n -= (size_t)w;
    } else if (w < 0 && errno == EAGAIN) {
      relay_wait(fd, c, c->in, POLLOUT);
    } else if (w < 0 && errno != EINTR) {
      die("write cat: %s", strerror(errno));
    }
  }
}

static void relay_start(bare_child* c) {
  char* argv[] = {"cat", NULL};
  bare_start(argv, c);
  /* As hotwrap grows a streaming call's pipes. */
  fcntl(c->in, F_SETPIPE_SZ, 1 << 20);
  fcntl(c->out, F_SETPIPE_SZ, 1 << 20);
  fcntl(c->in, F_SETFL, O_NONBLOCK);
  fcntl(c->out, F_SETFL, O_NONBLOCK);
}

static void relay_end(int fd, bare_child* c) {
  close(c->in);
  while (relay_out(fd, c)) relay_wait(fd, c, c->out, POLLIN);
  close(c->out);
  int st;
  while (waitpid(c->pid, &st, 0) < 0) {
    if (errno != EINTR) die("waitpid: %s", strerror(errno));
  }
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) die("cat failed (status %d)", st);
}

/* Before a read of the request that would block: cat's output keeps flowing meanwhile. */
static void relay_await_input(int fd, bare_child* c, rd_t* rd) {
  if (rd->r == rd->w) relay_wait(fd, c, fd, POLLIN);
}

static void serve(int fd) {
  rd_t rd;
  rd_init(&rd, fd, 256 << 10);
  char* held = malloc(HOLD);
  static const char head_cl[] =
      "HTTP/1.1 200 OK\r\nFn-Fdk-Version: null/0\r\nContent-Type: application/octet-stream\r\n"
      "Content-Length: %zu\r\n\r\n";
  static const char head_chunked[] =
      "HTTP/1.1 200 OK\r\nFn-Fdk-Version: null/0\r\nContent-Type: application/octet-stream\r\n"
      "Transfer-Encoding: chunked\r\n\r\n";
  head_t h;
  while (read_head(&rd, &h, 1)) {
    size_t n_held = 0;
    int streaming = 0;
    bare_child child;
    int relaying = 0; /* --spawn, past 1 MiB: cat runs and its output streams */
    uint64_t left = h.chunked ? 0 : (h.content_length < 0 ? 0 : (uint64_t)h.content_length);
    int done = !h.chunked && left == 0;
    while (!done) {
      uint64_t size;
      if (h.chunked) {
        size_t len;
        if (relaying) relay_await_input(fd, &child, &rd);
        char* line = rd_line(&rd, &len);
        if (!line) goto out;
        size = strtoull(line, NULL, 16);
        if (size == 0) {
          while ((line = rd_line(&rd, &len)) && len > 0) {
          }
          break;
        }
      } else {
        size = left;
        done = 1;
      }
      while (size > 0) {
        const char* p;
        if (relaying) relay_await_input(fd, &child, &rd);
        size_t n = rd_take(&rd, size, &p);
        if (n == 0) goto out;
        size -= n;
        if (!streaming && n_held + n <= HOLD) {
          memcpy(held + n_held, p, n);
          n_held += n;
          continue;
        }
        if (!streaming && spawn_cat) {
          streaming = relaying = 1;
          relay_start(&child);
          write_all(fd, head_chunked, sizeof head_chunked - 1);
          relay_in(fd, &child, held, n_held);
        }
        if (relaying) {
          relay_in(fd, &child, p, n);
          continue;
        }
        if (!streaming) {
          streaming = 1;
          char sz[24];
          int sn = snprintf(sz, sizeof sz, "%zx\r\n", n_held);
          struct iovec iov[4] = {{(void*)head_chunked, sizeof head_chunked - 1},
                                 {sz, (size_t)sn},
                                 {held, n_held},
                                 {"\r\n", 2}};
          writev_all(fd, iov, 4);
        }
        char sz[24];
        int sn = snprintf(sz, sizeof sz, "%zx\r\n", n);
        struct iovec iov[3] = {{sz, (size_t)sn}, {(void*)p, n}, {"\r\n", 2}};
        writev_all(fd, iov, 3);
      }
      if (h.chunked) {
        size_t len;
        if (relaying) relay_await_input(fd, &child, &rd);
        if (!rd_line(&rd, &len)) goto out;
      }
    }
    if (streaming) {
      if (relaying) relay_end(fd, &child);
      write_all(fd, "0\r\n\r\n", 5);
    } else {
      static char out[HOLD];
      const char* answer = held;
      size_t n_answer = n_held;
      if (spawn_cat) {
        n_answer = bare_spawn_call("cat", held, n_held, out, sizeof out);
        answer = out;
      }
      char head[256];
      int hn = snprintf(head, sizeof head, head_cl, n_answer);
      struct iovec iov[2] = {{head, (size_t)hn}, {(void*)answer, n_answer}};
      writev_all(fd, iov, n_held ? 2 : 1);
    }
  }
out:
  free(held);
  rd_free(&rd);
  close(fd);
}

static int listen_on(const char* where) {
  int l;
  if (strncmp(where, "tcp:", 4) == 0) {
    l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(where + 4))};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(l, (struct sockaddr*)&a, sizeof a) < 0) die("bind %s: %s", where, strerror(errno));
  } else {
    l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    if (strlen(where) >= sizeof a.sun_path) die("path too long");
    strcpy(a.sun_path, where);
    unlink(where);
    if (bind(l, (struct sockaddr*)&a, sizeof a) < 0) die("bind %s: %s", where, strerror(errno));
  }
  if (listen(l, 16) < 0) die("listen: %s", strerror(errno));
  return l;
}

int main(int argc, char** argv) {
  if (argc == 3 && strcmp(argv[1], "--spawn") == 0) {
    spawn_cat = 1;
    argv++;
    argc--;
  }
  if (argc != 2) die("usage: null_server [--spawn] SOCKET_PATH|tcp:PORT");
  signal(SIGPIPE, SIG_IGN);
  int l = listen_on(argv[1]);
  int tcp = strncmp(argv[1], "tcp:", 4) == 0;
  for (;;) {
    int fd = accept4(l, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR) continue;
      die("accept: %s", strerror(errno));
    }
    if (tcp) {
      int one = 1; /* as hotwrap sets it on every connection */
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    serve(fd);
  }
}
