/* A minimal Lambda Runtime API for the benchmark: one runtime at a time, blocking, in C, so that
 * the server costs next to nothing of the figure. It hands out WARMUP + EVENTS events of SIZE
 * bytes, each as soon as the runtime asks for the next one, takes the answers (Content-Length or
 * chunked), checks each is the event back (the command is cat), and prints the mean time per
 * event over the last EVENTS in microseconds: from the answer to one event to the answer to the
 * next, so a runtime's whole loop (GET /next, spawn, POST) is in it. Connections are kept alive
 * as the runtime likes (curl makes a new one per request).
 *
 *   lambda_server PORTFILE WARMUP EVENTS SIZE      writes its port to PORTFILE, then serves */
#define _GNU_SOURCE
#include "common.h"

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* One connection's input buffer. */
static char buf[1 << 20];
static size_t have;

/* Reads more from fd; 0 at EOF. */
static int fill(int fd) {
  if (have == sizeof buf) {
    fprintf(stderr, "lambda_server: request too large\n");
    exit(1);
  }
  ssize_t n = read(fd, buf + have, sizeof buf - have);
  if (n < 0) die("lambda_server: read: %s", strerror(errno));
  have += (size_t)n;
  return n > 0;
}

static void consume(size_t n) {
  memmove(buf, buf + n, have - n);
  have -= n;
}

/* The value of header `name` in the head [buf, end), or NULL. */
static const char* header(const char* end, const char* name, size_t* len) {
  size_t nl = strlen(name);
  for (const char* p = buf; p < end;) {
    const char* eol = memmem(p, (size_t)(end - p), "\r\n", 2);
    if (eol == NULL) break;
    if ((size_t)(eol - p) > nl + 1 && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
      const char* v = p + nl + 1;
      while (*v == ' ') ++v;
      *len = (size_t)(eol - v);
      return v;
    }
    p = eol + 2;
  }
  return NULL;
}

/* Reads one request's head and body (body into `body`, up to cap); returns 0 at EOF. */
static int read_request(int fd, char* line, size_t line_cap, char* body, size_t cap,
                        size_t* body_len) {
  char* end;
  while ((end = memmem(buf, have, "\r\n\r\n", 4)) == NULL) {
    if (!fill(fd)) return 0;
  }
  size_t head_len = (size_t)(end - buf) + 4;
  const char* eol = memmem(buf, have, "\r\n", 2);
  size_t l = (size_t)(eol - buf) < line_cap - 1 ? (size_t)(eol - buf) : line_cap - 1;
  memcpy(line, buf, l);
  line[l] = '\0';
  size_t vlen;
  const char* te = header(end + 2, "Transfer-Encoding", &vlen);
  const char* cl = header(end + 2, "Content-Length", &vlen);
  size_t n = cl != NULL ? strtoul(cl, NULL, 10) : 0;
  int chunked = te != NULL && vlen >= 7 && strncasecmp(te, "chunked", 7) == 0;
  consume(head_len);
  *body_len = 0;
  if (!chunked) {
    while (have < n) {
      if (!fill(fd)) return 0;
    }
    *body_len = n < cap ? n : cap;
    memcpy(body, buf, *body_len);
    consume(n);
    return 1;
  }
  for (;;) {
    char* crlf;
    while ((crlf = memmem(buf, have, "\r\n", 2)) == NULL) {
      if (!fill(fd)) return 0;
    }
    size_t size = strtoul(buf, NULL, 16);
    consume((size_t)(crlf - buf) + 2);
    if (size == 0) {
      /* Trailers, then the blank line. */
      for (;;) {
        while ((crlf = memmem(buf, have, "\r\n", 2)) == NULL) {
          if (!fill(fd)) return 0;
        }
        size_t ll = (size_t)(crlf - buf);
        consume(ll + 2);
        if (ll == 0) return 1;
      }
    }
    while (have < size + 2) {
      if (!fill(fd)) return 0;
    }
    size_t take = *body_len + size <= cap ? size : 0;
    memcpy(body + *body_len, buf, take);
    *body_len += take;
    consume(size + 2);
  }
}

int main(int argc, char** argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: lambda_server PORTFILE WARMUP EVENTS SIZE\n");
    return 2;
  }
  int warmup = atoi(argv[2]), events = atoi(argv[3]);
  size_t size = strtoul(argv[4], NULL, 10);
  int l = socket(AF_INET, SOCK_STREAM, 0);
  if (l < 0) die("lambda_server: socket: %s", strerror(errno));
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t alen = sizeof a;
  if (bind(l, (struct sockaddr*)&a, sizeof a) < 0 || listen(l, 16) < 0)
    die("lambda_server: bind/listen: %s", strerror(errno));
  if (getsockname(l, (struct sockaddr*)&a, &alen) < 0)
    die("lambda_server: getsockname: %s", strerror(errno));
  FILE* pf = fopen(argv[1], "w");
  if (pf == NULL) die("lambda_server: portfile: %s", strerror(errno));
  fprintf(pf, "%d\n", ntohs(a.sin_port));
  fclose(pf);

  char* event = malloc(size);
  char* body = malloc(size + 1);
  for (size_t i = 0; i < size; ++i) event[i] = (char)('a' + i % 26);
  char line[512], head[512];
  int total = warmup + events, sent = 0, answered = 0;
  double start = 0;
  int fd = -1;
  while (answered < total) {
    if (fd < 0) {
      fd = accept(l, NULL, NULL);
      if (fd < 0) die("lambda_server: accept: %s", strerror(errno));
      int on = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
      have = 0;
    }
    size_t blen;
    if (!read_request(fd, line, sizeof line, body, size + 1, &blen)) {
      close(fd);
      fd = -1;
      continue;
    }
    if (strncmp(line, "GET /2018-06-01/runtime/invocation/next ", 40) == 0) {
      int n =
          snprintf(head, sizeof head,
                   "HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: req-%d\r\n"
                   "Lambda-Runtime-Deadline-Ms: %lld\r\n"
                   "Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:eu-west-1:1:function:b\r\n"
                   "Lambda-Runtime-Trace-Id: Root=1-00000000-000000000000000000000000\r\n"
                   "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                   sent, (long long)time(NULL) * 1000 + 600000, size);
      write_all(fd, head, (size_t)n);
      write_all(fd, event, size);
      ++sent;
    } else if (strncmp(line, "POST /2018-06-01/runtime/invocation/req-", 40) == 0) {
      if (strstr(line, "/response ") == NULL || blen != size || memcmp(body, event, size) != 0) {
        fprintf(stderr, "lambda_server: a wrong answer: %s (%zu bytes)\n", line, blen);
        return 1;
      }
      static const char ok[] =
          "HTTP/1.1 202 Accepted\r\nContent-Length: 16\r\n\r\n{\"status\":\"OK\"}\n";
      write_all(fd, ok, sizeof ok - 1);
      if (++answered == warmup) start = now_us();
    } else {
      fprintf(stderr, "lambda_server: unexpected request: %s\n", line);
      return 1;
    }
  }
  printf("%.1f\n", (now_us() - start) / events);
  return 0;
}
