/* The floor of a Lambda custom runtime: the loop written directly in C for one fixed command, with
 * nothing general in it — one kept-alive blocking connection, GET /next, posix_spawnp the command
 * with the event on stdin (bare_spawn_call), POST its stdout to /response, and again. No error
 * handling beyond dying, no deadline, no environment, no streaming.
 *
 *   AWS_LAMBDA_RUNTIME_API=127.0.0.1:PORT lambda_bare COMMAND */
#define _GNU_SOURCE
#include "common.h"

#include "bare_spawn.h"

static char in[1 << 20];
static size_t have;

/* One response: its head's request id (if any) into id, its body into body; returns its length. */
static size_t read_event_response(int fd, char* id, size_t id_cap, char* body, size_t cap) {
  char* end;
  while ((end = memmem(in, have, "\r\n\r\n", 4)) == NULL) {
    ssize_t n = read(fd, in + have, sizeof in - have);
    if (n <= 0) die("lambda_bare: read: %s", strerror(errno));
    have += (size_t)n;
  }
  size_t head = (size_t)(end - in) + 4, len = 0;
  id[0] = '\0';
  for (char* p = in; p < end;) {
    char* eol = memmem(p, (size_t)(end + 2 - p), "\r\n", 2);
    if (strncasecmp(p, "Content-Length:", 15) == 0) len = strtoul(p + 15, NULL, 10);
    if (strncasecmp(p, "Lambda-Runtime-Aws-Request-Id:", 30) == 0) {
      char* v = p + 30;
      while (*v == ' ') ++v;
      size_t l = (size_t)(eol - v) < id_cap - 1 ? (size_t)(eol - v) : id_cap - 1;
      memcpy(id, v, l);
      id[l] = '\0';
    }
    p = eol + 2;
  }
  while (have < head + len) {
    ssize_t n = read(fd, in + have, sizeof in - have);
    if (n <= 0) die("lambda_bare: read: %s", strerror(errno));
    have += (size_t)n;
  }
  memcpy(body, in + head, len < cap ? len : cap);
  memmove(in, in + head + len, have - head - len);
  have -= head + len;
  return len;
}

int main(int argc, char** argv) {
  const char* api = getenv("AWS_LAMBDA_RUNTIME_API");
  if (argc != 2 || api == NULL) {
    fprintf(stderr, "usage: AWS_LAMBDA_RUNTIME_API=host:port lambda_bare COMMAND\n");
    return 2;
  }
  const char* colon = strrchr(api, ':');
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1))};
  char host[64];
  snprintf(host, sizeof host, "%.*s", (int)(colon - api), api);
  inet_pton(AF_INET, host, &a.sin_addr);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0 || connect(fd, (struct sockaddr*)&a, sizeof a) < 0)
    die("lambda_bare: connect: %s", strerror(errno));
  int on = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
  static char event[1 << 20], out[1 << 20], req[512], id[128], sink[256];
  for (;;) {
    int n = snprintf(req, sizeof req,
                     "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: %s\r\n\r\n", api);
    write_all(fd, req, (size_t)n);
    size_t elen = read_event_response(fd, id, sizeof id, event, sizeof event);
    size_t olen = bare_spawn_call(argv[1], event, elen, out, sizeof out);
    n = snprintf(req, sizeof req,
                 "POST /2018-06-01/runtime/invocation/%s/response HTTP/1.1\r\nHost: %s\r\n"
                 "Content-Length: %zu\r\n\r\n",
                 id, api, olen);
    write_all(fd, req, (size_t)n);
    write_all(fd, out, olen);
    read_event_response(fd, id, sizeof id, sink, sizeof sink);
  }
}
