/* The baselines hotwrap is measured against: what the same work costs without hotwrap. */
#ifndef HOTWRAP_BENCH_BARE_SPAWN_H
#define HOTWRAP_BENCH_BARE_SPAWN_H
#include <stddef.h>
#include <sys/types.h>

typedef struct {
  pid_t pid;
  int in, out; /* our ends: the child's stdin and stdout */
} bare_child;

/* posix_spawnp(argv[0]) with stdin and stdout on pipes. */
void bare_start(char* const argv[], bare_child* c);
/* Writes `len` bytes, closes stdin, reads stdout until EOF (at most cap bytes kept in out),
 * waitpid; dies unless the child exits 0. Returns the bytes read. */
size_t bare_finish(bare_child* c, const char* body, size_t len, char* out, size_t cap);
/* Both of the above: one call of `cmd` run directly. */
size_t bare_spawn_call(const char* cmd, const char* body, size_t len, char* out, size_t cap);

/* Runs `/bin/sh -c script` and waits for it; dies unless it exits 0. */
void run_shell(const char* script);
#endif
