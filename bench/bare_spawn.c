/* Baselines. Per-call latency: what one call costs when a C program runs the command itself, with
 * no server, no HTTP and no event loop: posix_spawnp + pipes + write + read to EOF + waitpid.
 * Prespawn: the same, with the process started ahead of its call (bare_start ... bare_finish).
 * Streaming: a shell pipeline (run_shell). */
#define _GNU_SOURCE
#include "bare_spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

static void fail(const char* what, int err) {
  fprintf(stderr, "bench: %s: %s\n", what, strerror(err));
  exit(1);
}

void bare_start(char* const argv[], bare_child* c) {
  int in[2], outp[2];
  if (pipe2(in, O_CLOEXEC) < 0 || pipe2(outp, O_CLOEXEC) < 0) fail("pipe2", errno);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  posix_spawn_file_actions_adddup2(&fa, outp[1], 1);
  int err = posix_spawnp(&c->pid, argv[0], &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  if (err != 0) fail("posix_spawnp", err);
  close(in[0]);
  close(outp[1]);
  c->in = in[1];
  c->out = outp[0];
}

size_t bare_finish(bare_child* c, const char* body, size_t len, char* out, size_t cap) {
  /* The bodies used here fit in the pipe: write it all, then EOF. */
  const char* p = body;
  size_t left = len;
  while (left > 0) {
    ssize_t w = write(c->in, p, left);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) fail("write", errno);
    p += w;
    left -= (size_t)w;
  }
  close(c->in);
  size_t got = 0;
  char sink[4096];
  for (;;) {
    char* dst = got < cap ? out + got : sink;
    size_t room = got < cap ? cap - got : sizeof sink;
    ssize_t n = read(c->out, dst, room);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail("read", errno);
    if (n == 0) break;
    got += (size_t)n;
  }
  close(c->out);
  int st;
  while (waitpid(c->pid, &st, 0) < 0) {
    if (errno != EINTR) fail("waitpid", errno);
  }
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
    fprintf(stderr, "bench: child %d failed (status %d)\n", (int)c->pid, st);
    exit(1);
  }
  return got;
}

size_t bare_spawn_call(const char* cmd, const char* body, size_t len, char* out, size_t cap) {
  char* argv[] = {(char*)cmd, NULL};
  bare_child c;
  bare_start(argv, &c);
  return bare_finish(&c, body, len, out, cap);
}

void run_shell(const char* script) {
  char* argv[] = {"sh", "-c", (char*)script, NULL};
  pid_t pid;
  int err = posix_spawn(&pid, "/bin/sh", NULL, NULL, argv, environ);
  if (err != 0) fail("posix_spawn /bin/sh", err);
  int st;
  while (waitpid(pid, &st, 0) < 0) {
    if (errno != EINTR) fail("waitpid", errno);
  }
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
    fprintf(stderr, "bench: '%s' failed (status %d)\n", script, st);
    exit(1);
  }
}
