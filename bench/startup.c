/* Start-up time: from just before posix_spawn of hotwrap until the Fn agent would call it ready,
 * i.e. the IN_CREATE of lsnr.sock in the socket directory (the agent's own inotify test).
 * Also times the floor program (static glibc + libevent_core, exits after event_base_new) from
 * posix_spawn to exit, the least any static libevent program can take to start.
 *
 *   startup HOTWRAP FLOOR DIR N      (results as key=value lines on stdout) */
#include "common.h"

#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/inotify.h>
#include <sys/wait.h>

static pid_t spawn(char* const argv[], char* const envp[]) {
  pid_t pid;
  int err = posix_spawn(&pid, argv[0], NULL, NULL, argv, envp);
  if (err != 0) die("posix_spawn %s: %s", argv[0], strerror(err));
  return pid;
}

static void reap(pid_t pid) {
  int st;
  while (waitpid(pid, &st, 0) < 0)
    if (errno != EINTR) die("waitpid: %s", strerror(errno));
}

/* Waits for IN_CREATE of `name`; returns 0 on timeout. */
static int wait_created(int ino, const char* name, int timeout_ms) {
  char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
  uint64_t until = now_ns() + (uint64_t)timeout_ms * 1000000u;
  for (;;) {
    struct pollfd p = {ino, POLLIN, 0};
    int64_t left = (int64_t)(until - now_ns()) / 1000000;
    if (left < 0 || poll(&p, 1, (int)left) == 0) return 0;
    ssize_t n = read(ino, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) die("inotify read: %s", strerror(errno));
    for (char* e = buf; e < buf + n;) {
      struct inotify_event* ev = (struct inotify_event*)e;
      if ((ev->mask & IN_CREATE) && ev->len > 0 && strcmp(ev->name, name) == 0) return 1;
      e += sizeof *ev + ev->len;
    }
  }
}

int main(int argc, char** argv) {
  if (argc != 5) die("usage: startup HOTWRAP FLOOR DIR N");
  const char *hotwrap = argv[1], *floor_bin = argv[2], *dir = argv[3];
  int n = atoi(argv[4]);
  char listener[256], sock[256], path_env[1024];
  snprintf(listener, sizeof listener, "FN_LISTENER=unix:%s/lsnr.sock", dir);
  snprintf(sock, sizeof sock, "%s/lsnr.sock", dir);
  snprintf(path_env, sizeof path_env, "PATH=%s", getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
  char* envp[] = {listener, "FN_FORMAT=http-stream", path_env, "HOTWRAP_LOG_LEVEL=warn", NULL};
  char* hw_argv[] = {(char*)hotwrap, "cat", NULL};
  char* floor_argv[] = {(char*)floor_bin, "exit", NULL};
  double *t = malloc(sizeof(double) * (size_t)n), *f = malloc(sizeof(double) * (size_t)n);
  int ino = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  if (ino < 0 || inotify_add_watch(ino, dir, IN_CREATE) < 0) die("inotify: %s", strerror(errno));
  for (int i = -2; i < n; i++) { /* two warm-up starts: page cache */
    char drain[4096];
    while (read(ino, drain, sizeof drain) > 0) {
    }
    uint64_t t0 = now_ns();
    pid_t pid = spawn(hw_argv, envp);
    if (!wait_created(ino, "lsnr.sock", 5000)) die("no lsnr.sock within 5 s");
    double hw_us = (double)(now_ns() - t0) / 1e3;
    kill(pid, SIGTERM);
    reap(pid);
    if (access(sock, F_OK) == 0) die("hotwrap left %s behind after SIGTERM", sock);
    t0 = now_ns();
    reap(spawn(floor_argv, envp));
    uint64_t t2 = now_ns();
    if (i >= 0) {
      t[i] = hw_us;
      f[i] = (double)(t2 - t0) / 1e3;
    }
  }
  for (int i = 0; i < n; i++)
    fprintf(stderr, "  start %2d: hotwrap %7.1f us  floor %7.1f us\n", i + 1, t[i], f[i]);
  printf("start_hotwrap_us=%.1f\nstart_floor_us=%.1f\nstart_runs=%d\n", median(t, (size_t)n),
         median(f, (size_t)n), n);
  printf("start_hotwrap_us_max=%.1f\n", percentile(t, (size_t)n, 1));
  return 0;
}
