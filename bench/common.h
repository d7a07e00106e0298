/* Shared by the benchmark programs: clocks, statistics, a buffered reader, the Fn agent's
 * request framing and an HTTP/1.1 response reader (Content-Length or chunked).
 * Header-only so run.sh can build each program with one gcc command. */
#ifndef HOTWRAP_BENCH_COMMON_H
#define HOTWRAP_BENCH_COMMON_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

static inline void die(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("bench: ", stderr);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  exit(1);
}

static inline uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline int cmp_double(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return x < y ? -1 : x > y;
}

/* Median of n values (the array is left untouched). */
static inline double median(const double* v, size_t n) {
  if (n == 0) return 0;
  double* c = malloc(n * sizeof *c);
  if (!c) die("out of memory");
  memcpy(c, v, n * sizeof *c);
  qsort(c, n, sizeof *c, cmp_double);
  double m = n % 2 ? c[n / 2] : (c[n / 2 - 1] + c[n / 2]) / 2;
  free(c);
  return m;
}

static inline double percentile(const double* v, size_t n, double p) {
  if (n == 0) return 0;
  double* c = malloc(n * sizeof *c);
  if (!c) die("out of memory");
  memcpy(c, v, n * sizeof *c);
  qsort(c, n, sizeof *c, cmp_double);
  size_t i = (size_t)(p * (double)(n - 1) + 0.5);
  double m = c[i];
  free(c);
  return m;
}

static inline void write_all(int fd, const void* p, size_t n) {
  const char* c = p;
  while (n > 0) {
    ssize_t w = write(fd, c, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) die("write: %s", strerror(errno));
    c += w;
    n -= (size_t)w;
  }
}

static inline void writev_all(int fd, struct iovec* iov, int cnt) {
  while (cnt > 0) {
    ssize_t w = writev(fd, iov, cnt);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) die("writev: %s", strerror(errno));
    size_t left = (size_t)w;
    while (cnt > 0 && left >= iov->iov_len) {
      left -= iov->iov_len;
      iov++;
      cnt--;
    }
    if (cnt > 0) {
      iov->iov_base = (char*)iov->iov_base + left;
      iov->iov_len -= left;
    }
  }
}

/* A connection to `where`: a unix socket path, or "tcp:PORT" on 127.0.0.1 (the http contract),
 * with TCP_NODELAY as HTTP clients set it. */
static inline int unix_connect(const char* where) {
  if (strncmp(where, "tcp:", 4) == 0) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) die("socket: %s", strerror(errno));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(where + 4))};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr*)&a, sizeof a) < 0) die("connect %s: %s", where, strerror(errno));
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
  }
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket: %s", strerror(errno));
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  if (strlen(where) >= sizeof a.sun_path) die("socket path too long: %s", where);
  strcpy(a.sun_path, where);
  if (connect(fd, (struct sockaddr*)&a, sizeof a) < 0) die("connect %s: %s", where, strerror(errno));
  return fd;
}

/* ---- buffered reader ------------------------------------------------------------------------ */

typedef struct {
  int fd;
  char* buf;
  size_t cap, r, w;
} rd_t;

static inline void rd_init(rd_t* rd, int fd, size_t cap) {
  rd->fd = fd;
  rd->cap = cap;
  rd->r = rd->w = 0;
  rd->buf = malloc(cap);
  if (!rd->buf) die("out of memory");
}

static inline void rd_free(rd_t* rd) {
  free(rd->buf);
}

/* Reads more; returns 0 at EOF. */
static inline size_t rd_fill(rd_t* rd) {
  if (rd->r == rd->w) {
    rd->r = rd->w = 0;
  } else if (rd->w == rd->cap) {
    memmove(rd->buf, rd->buf + rd->r, rd->w - rd->r);
    rd->w -= rd->r;
    rd->r = 0;
  }
  if (rd->w == rd->cap) die("line longer than the read buffer");
  for (;;) {
    ssize_t n = read(rd->fd, rd->buf + rd->w, rd->cap - rd->w);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) die("read: %s", strerror(errno));
    rd->w += (size_t)n;
    return (size_t)n;
  }
}

/* One line without its CRLF; NULL at EOF before any byte of it. */
static inline char* rd_line(rd_t* rd, size_t* len) {
  for (;;) {
    char* s = rd->buf + rd->r;
    char* nl = memchr(s, '\n', rd->w - rd->r);
    if (nl) {
      size_t n = (size_t)(nl - s);
      rd->r += n + 1;
      if (n > 0 && s[n - 1] == '\r') n--;
      s[n] = '\0';
      *len = n;
      return s;
    }
    if (rd_fill(rd) == 0) {
      if (rd->r == rd->w) return NULL;
      die("connection closed mid-line");
    }
  }
}

/* Up to max bytes, in place; 0 at EOF. */
static inline size_t rd_take(rd_t* rd, size_t max, const char** p) {
  if (rd->r == rd->w && rd_fill(rd) == 0) return 0;
  size_t n = rd->w - rd->r;
  if (n > max) n = max;
  *p = rd->buf + rd->r;
  rd->r += n;
  return n;
}

typedef void (*body_fn)(void* arg, const char* p, size_t n);

/* Reads a chunked body (after the head), handing each piece to fn. Returns the body size;
 * *complete says whether the terminating zero chunk arrived. */
static inline uint64_t read_chunked(rd_t* rd, body_fn fn, void* arg, int* complete) {
  uint64_t total = 0;
  *complete = 0;
  for (;;) {
    size_t len;
    char* line = rd_line(rd, &len);
    if (!line) return total;
    char* end;
    unsigned long long size = strtoull(line, &end, 16);
    if (end == line) die("bad chunk size line: '%s'", line);
    if (size == 0) {
      while ((line = rd_line(rd, &len)) && len > 0) {
      } /* trailers */
      *complete = line != NULL;
      return total;
    }
    while (size > 0) {
      const char* p;
      size_t n = rd_take(rd, size, &p);
      if (n == 0) return total;
      if (fn) fn(arg, p, n);
      size -= n;
      total += n;
    }
    if (!rd_line(rd, &len) || len != 0) die("chunk not followed by CRLF");
  }
}

typedef struct {
  int status;
  int chunked;
  int64_t content_length; /* -1 if absent */
  int keep_alive;
} head_t;

/* Reads a response (or request, with is_request) head. Returns 0 at a clean EOF. */
static inline int read_head(rd_t* rd, head_t* h, int is_request) {
  size_t len;
  char* line = rd_line(rd, &len);
  if (!line) return 0;
  memset(h, 0, sizeof *h);
  h->content_length = -1;
  h->keep_alive = 1;
  if (!is_request) {
    if (strncmp(line, "HTTP/1.1 ", 9) != 0) die("bad status line: '%s'", line);
    h->status = atoi(line + 9);
  }
  while ((line = rd_line(rd, &len)) && len > 0) {
    if (strncasecmp(line, "content-length:", 15) == 0)
      h->content_length = strtoll(line + 15, NULL, 10);
    if (strncasecmp(line, "transfer-encoding:", 18) == 0 && strcasestr(line + 18, "chunked"))
      h->chunked = 1;
    if (strncasecmp(line, "connection:", 11) == 0 && strcasestr(line + 11, "close"))
      h->keep_alive = 0;
  }
  if (!line) die("connection closed mid-head");
  return 1;
}

/* Reads one full response. Returns the body size; dies on a short or broken body. */
static inline uint64_t read_response(rd_t* rd, head_t* h, body_fn fn, void* arg) {
  if (!read_head(rd, h, 0)) die("connection closed before the response");
  if (h->chunked) {
    int complete;
    uint64_t n = read_chunked(rd, fn, arg, &complete);
    if (!complete)
      die("chunked response ended without its zero chunk (after %llu bytes)",
          (unsigned long long)n);
    return n;
  }
  uint64_t want = h->content_length < 0 ? 0 : (uint64_t)h->content_length, got = 0;
  while (got < want) {
    const char* p;
    size_t n = rd_take(rd, want - got, &p);
    if (n == 0)
      die("connection closed mid-body (%llu of %llu)", (unsigned long long)got,
          (unsigned long long)want);
    if (fn) fn(arg, p, n);
    got += n;
  }
  return got;
}

/* ---- the Fn agent's request ----------------------------------------------------------------- */

/* Head of a request as the Fn agent (Go net/http) writes it: chunked body, Fn-Call-Id (ULID-like),
 * Fn-Deadline (RFC 3339, whole seconds). */
static inline size_t agent_head(char* out, size_t cap, unsigned long seq) {
  static const char b32[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
  char id[27];
  uint64_t x = (uint64_t)seq * 0x9E3779B97F4A7C15ull ^ now_ns();
  for (int i = 0; i < 26; i++) {
    id[i] = b32[x & 31];
    x = (x >> 5) | ((x & 31) << 59);
    if (i % 12 == 11) x ^= (uint64_t)seq * 0xBF58476D1CE4E5B9ull;
  }
  id[0] = '0';
  id[1] = '1';
  id[26] = '\0';
  time_t dl = time(NULL) + 300;
  struct tm tm;
  gmtime_r(&dl, &tm);
  char deadline[32];
  strftime(deadline, sizeof deadline, "%Y-%m-%dT%H:%M:%SZ", &tm);
  int n = snprintf(out, cap,
                   "POST /call HTTP/1.1\r\n"
                   "Host: localhost\r\n"
                   "User-Agent: Go-http-client/1.1\r\n"
                   "Transfer-Encoding: chunked\r\n"
                   "Content-Type: application/octet-stream\r\n"
                   "Fn-Call-Id: %s\r\n"
                   "Fn-Deadline: %s\r\n"
                   "Accept-Encoding: gzip\r\n"
                   "\r\n",
                   id, deadline);
  if (n < 0 || (size_t)n >= cap) die("request head too long");
  return (size_t)n;
}

/* Sends one whole small request the way Go's transport does: the head and the body's one chunk
 * go out in one write (FlushAfterChunkWriter), the terminating zero chunk in a second one. */
static inline void send_small_call(int fd, const char* body, size_t len, unsigned long seq) {
  char head[512];
  size_t hn = agent_head(head, sizeof head, seq);
  char sz[24];
  int sn = snprintf(sz, sizeof sz, "%zx\r\n", len);
  struct iovec iov[4] = {{head, hn}, {sz, (size_t)sn}, {(void*)body, len}, {"\r\n", 2}};
  writev_all(fd, iov, len > 0 ? 4 : 1);
  write_all(fd, "0\r\n\r\n", 5);
}

#endif
