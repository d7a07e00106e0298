/* The benchmark client: speaks to hotwrap the way the Fn agent does (POST /call on one kept-alive
 * unix-socket connection, chunked request bodies, Fn-Call-Id and Fn-Deadline headers) and runs
 * each measurement interleaved with its baseline, so both sides share the machine's load.
 *
 *   client lat      HWSOCK NULLSOCK BATCHES CALLS BODY_BYTES
 *   client stream   HWSOCK NULLSOCK BYTES REPS CHUNK_BYTES NULL_REPS [FLOORSOCK]
 *   client calls    SOCK N BODY_BYTES
 *   client prespawn HOTSOCK COLDSOCK N SLEEP_MS COMMAND [ARGS...]
 *   client conc     HWSOCK THREADS CALLS BODY_BYTES REPS
 *
 * A socket is a unix socket path, or tcp:PORT for the http contract on 127.0.0.1.
 *
 * Results go to stdout as key=value lines; details go to stderr. */
#include "common.h"

#include <pthread.h>
#include <sys/resource.h>

#include "bare_spawn.h"

typedef struct {
  int fd;
  rd_t rd;
  unsigned long seq;
} conn_t;

static void conn_open(conn_t* c, const char* path, size_t rdbuf) {
  c->fd = unix_connect(path);
  rd_init(&c->rd, c->fd, rdbuf);
  c->seq = 0;
}

typedef struct {
  char* buf;
  size_t cap, len;
} collect_t;

static void collect(void* arg, const char* p, size_t n) {
  collect_t* c = arg;
  if (c->len + n > c->cap) die("response body larger than expected");
  memcpy(c->buf + c->len, p, n);
  c->len += n;
}

/* One call with a small body on the kept-alive connection; checks the echo. */
static void small_call(conn_t* c, const char* body, size_t len, const char* expect, size_t elen) {
  static _Thread_local char got[1 << 16];
  collect_t col = {got, sizeof got, 0};
  send_small_call(c->fd, body, len, ++c->seq);
  head_t h;
  read_response(&c->rd, &h, collect, &col);
  if (h.status != 200) die("call answered %d: %.*s", h.status, (int)col.len, got);
  if (col.len != elen || memcmp(got, expect, elen) != 0)
    die("unexpected response body (%zu bytes): %.*s", col.len, (int)(col.len < 200 ? col.len : 200),
        got);
  if (!h.keep_alive) die("server closed the kept-alive connection");
}

/* ---- lat: per-call latency, hotwrap vs bare posix_spawn (vs a null server) ------------------- */

static int cmd_lat(char** argv) {
  const char *hw_sock = argv[0], *null_sock = argv[1];
  int batches = atoi(argv[2]), calls = atoi(argv[3]);
  size_t blen = (size_t)atol(argv[4]);
  char* body = malloc(blen);
  char* echo = malloc(blen + 1);
  for (size_t i = 0; i < blen; i++) body[i] = (char)('a' + (i * 7 + i / 26) % 26);
  conn_t hw, nul;
  conn_open(&hw, hw_sock, 1 << 16);
  conn_open(&nul, null_sock, 1 << 16);

  enum { HW, BARE, NUL, SIDES };
  static const char* names[SIDES] = {"hotwrap", "bare", "null"};
  double* t[SIDES];
  double* bmed[SIDES];
  double* all[SIDES]; /* every call, for the 10th percentile */
  for (int s = 0; s < SIDES; s++) {
    t[s] = malloc(sizeof(double) * (size_t)calls);
    all[s] = malloc(sizeof(double) * (size_t)calls * (size_t)batches);
    bmed[s] = malloc(sizeof(double) * (size_t)batches);
  }
  double* ratio = malloc(sizeof(double) * (size_t)batches);
  double* null_ratio = malloc(sizeof(double) * (size_t)batches);

  /* Warm-up: page cache, the kept-alive connections, hotwrap's first allocations. */
  for (int i = 0; i < 50; i++) {
    small_call(&hw, body, blen, body, blen);
    small_call(&nul, body, blen, body, blen);
    if (bare_spawn_call("cat", body, blen, echo, blen + 1) != blen) die("bare cat: short echo");
  }
  for (int b = 0; b < batches; b++) {
    for (int k = 0; k < SIDES; k++) {
      int s = b % 2 == 0 ? k : SIDES - 1 - k; /* alternate the order from batch to batch */
      for (int i = 0; i < calls; i++) {
        uint64_t t0 = now_ns();
        if (s == HW) {
          small_call(&hw, body, blen, body, blen);
        } else if (s == NUL) {
          small_call(&nul, body, blen, body, blen);
        } else {
          size_t n = bare_spawn_call("cat", body, blen, echo, blen + 1);
          if (n != blen || memcmp(echo, body, blen) != 0) die("bare cat: wrong echo");
        }
        t[s][i] = (double)(now_ns() - t0) / 1e3;
      }
      bmed[s][b] = median(t[s], (size_t)calls);
      memcpy(all[s] + (size_t)b * (size_t)calls, t[s], sizeof(double) * (size_t)calls);
    }
    ratio[b] = bmed[HW][b] / bmed[BARE][b];
    null_ratio[b] = bmed[NUL][b] / bmed[BARE][b];
    fprintf(stderr, "  batch %2d: hotwrap %7.1f us  bare %7.1f us  null %6.1f us  ratio %.3f\n",
            b + 1, bmed[HW][b], bmed[BARE][b], bmed[NUL][b], ratio[b]);
  }
  for (int s = 0; s < SIDES; s++) {
    printf("lat_%s_us=%.1f\n", names[s], median(bmed[s], (size_t)batches));
    printf("lat_%s_us_min_batch=%.1f\n", names[s], percentile(bmed[s], (size_t)batches, 0));
    printf("lat_%s_us_max_batch=%.1f\n", names[s], percentile(bmed[s], (size_t)batches, 1));
  }
  printf("lat_ratio=%.3f\n", median(ratio, (size_t)batches));
  printf("lat_null_ratio=%.3f\n", median(null_ratio, (size_t)batches));
  size_t total = (size_t)calls * (size_t)batches;
  for (int s = 0; s < SIDES; s++)
    printf("lat_%s_us_p10=%.1f\n", names[s], percentile(all[s], total, 0.1));
  printf("lat_p10_ratio=%.3f\n",
         percentile(all[HW], total, 0.1) / percentile(all[BARE], total, 0.1));
  printf("lat_null_p10_ratio=%.3f\n",
         percentile(all[NUL], total, 0.1) / percentile(all[BARE], total, 0.1));
  printf("lat_ratio_min=%.3f\nlat_ratio_max=%.3f\n", percentile(ratio, (size_t)batches, 0),
         percentile(ratio, (size_t)batches, 1));
  printf("lat_batches=%d\nlat_calls=%d\nlat_body=%zu\n", batches, calls, blen);
  return 0;
}

/* ---- stream: one call streaming BYTES through cat, vs a shell pipeline ------------------------
 */

typedef struct {
  int fd;
  uint64_t bytes;
  size_t chunk;
  unsigned long seq;
} writer_arg;

static void* stream_writer(void* p) {
  writer_arg* a = p;
  char head[512];
  size_t hn = agent_head(head, sizeof head, a->seq);
  write_all(a->fd, head, hn);
  char* data = malloc(a->chunk);
  memset(data, 'x', a->chunk);
  uint64_t left = a->bytes;
  while (left > 0) {
    size_t n = left < a->chunk ? (size_t)left : a->chunk;
    char sz[24];
    int sn = snprintf(sz, sizeof sz, "%zx\r\n", n);
    struct iovec iov[3] = {{sz, (size_t)sn}, {data, n}, {"\r\n", 2}};
    writev_all(a->fd, iov, 3);
    left -= n;
  }
  write_all(a->fd, "0\r\n\r\n", 5);
  free(data);
  return NULL;
}

/* Sends `bytes` as a chunked body from a second thread while this one reads the response. */
static double stream_call(conn_t* c, uint64_t bytes, size_t chunk) {
  writer_arg a = {c->fd, bytes, chunk, ++c->seq};
  pthread_t th;
  uint64_t t0 = now_ns();
  if (pthread_create(&th, NULL, stream_writer, &a) != 0) die("pthread_create");
  head_t h;
  uint64_t got = read_response(&c->rd, &h, NULL, NULL);
  uint64_t t1 = now_ns();
  pthread_join(th, NULL);
  if (h.status != 200) die("stream call answered %d", h.status);
  if (got != bytes)
    die("stream call echoed %llu of %llu bytes", (unsigned long long)got,
        (unsigned long long)bytes);
  return (double)(t1 - t0) / 1e9;
}

static double cpu_s(int who) {
  struct rusage ru;
  getrusage(who, &ru);
  return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* With FLOORSOCK (null_server --spawn: a minimal server relaying the body through cat) a third
 * side runs in every repetition: what the machine allows any server, against the same pipeline. */
static int cmd_stream(char** argv) {
  const char *hw_sock = argv[0], *null_sock = argv[1], *floor_sock = argv[6];
  uint64_t bytes = strtoull(argv[2], NULL, 10);
  int reps = atoi(argv[3]);
  size_t chunk = (size_t)atol(argv[4]);
  int null_reps = atoi(argv[5]);
  char script[128];
  snprintf(script, sizeof script, "head -c %llu /dev/zero | cat | cat > /dev/null",
           (unsigned long long)bytes);
  conn_t hw, nul, flr;
  conn_open(&hw, hw_sock, 256 << 10);
  conn_open(&nul, null_sock, 256 << 10);
  if (floor_sock) conn_open(&flr, floor_sock, 256 << 10);
  const int sides = floor_sock ? 3 : 2;
  double *hw_mibs = malloc(sizeof(double) * (size_t)reps),
         *pipe_mibs = malloc(sizeof(double) * (size_t)reps);
  double* null_mibs = malloc(sizeof(double) * (size_t)(null_reps > 0 ? null_reps : 1));
  double* ratio = malloc(sizeof(double) * (size_t)reps);
  double *floor_mibs = malloc(sizeof(double) * (size_t)reps),
         *floor_ratio = malloc(sizeof(double) * (size_t)reps);
  /* CPU seconds per repetition: this client's for the hotwrap side, the pipeline's own (sh, head,
   * cat, cat: reaped descendants) for the baseline. */
  double *cpu_client = malloc(sizeof(double) * (size_t)reps),
         *cpu_pipe = malloc(sizeof(double) * (size_t)reps);
  const double mib = (double)bytes / (1 << 20);
  /* The sides of a repetition back to back, the order rotating, so they see the same load. */
  for (int r = 0; r < reps; r++) {
    for (int k = 0; k < sides; k++) {
      int side = (r + k) % sides;
      if (side == 0) {
        double c0 = cpu_s(RUSAGE_SELF);
        hw_mibs[r] = mib / stream_call(&hw, bytes, chunk);
        cpu_client[r] = cpu_s(RUSAGE_SELF) - c0;
      } else if (side == 2) {
        floor_mibs[r] = mib / stream_call(&flr, bytes, chunk);
      } else {
        double c0 = cpu_s(RUSAGE_CHILDREN);
        uint64_t t0 = now_ns();
        run_shell(script);
        pipe_mibs[r] = mib / ((double)(now_ns() - t0) / 1e9);
        cpu_pipe[r] = cpu_s(RUSAGE_CHILDREN) - c0;
      }
    }
    ratio[r] = hw_mibs[r] / pipe_mibs[r];
    fprintf(stderr, "  rep %2d: hotwrap %7.1f MiB/s  pipeline %7.1f MiB/s  ratio %.3f", r + 1,
            hw_mibs[r], pipe_mibs[r], ratio[r]);
    if (floor_sock) {
      floor_ratio[r] = floor_mibs[r] / pipe_mibs[r];
      fprintf(stderr, "  floor %7.1f MiB/s  ratio %.3f", floor_mibs[r], floor_ratio[r]);
    }
    fputc('\n', stderr);
  }
  /* The client's own ceiling: the same calls answered by the null server. */
  for (int r = 0; r < null_reps; r++) {
    null_mibs[r] = mib / stream_call(&nul, bytes, chunk);
    fprintf(stderr, "  null server %d: %7.1f MiB/s\n", r + 1, null_mibs[r]);
  }
  size_t n = (size_t)reps;
  printf("stream_hotwrap_mibs=%.1f\nstream_pipeline_mibs=%.1f\n", median(hw_mibs, n),
         median(pipe_mibs, n));
  printf("stream_null_mibs=%.1f\n", median(null_mibs, (size_t)null_reps));
  printf("stream_ratio=%.3f\n", median(ratio, n));
  printf("stream_ratio_min=%.3f\nstream_ratio_max=%.3f\n", percentile(ratio, n, 0),
         percentile(ratio, n, 1));
  /* Best of each side: the runs least disturbed by other load. */
  printf("stream_best_ratio=%.3f\n", percentile(hw_mibs, n, 1) / percentile(pipe_mibs, n, 1));
  printf("stream_hotwrap_best_mibs=%.1f\nstream_pipeline_best_mibs=%.1f\n",
         percentile(hw_mibs, n, 1), percentile(pipe_mibs, n, 1));
  printf("stream_cpu_client_s=%.3f\nstream_cpu_pipeline_s=%.3f\n", median(cpu_client, n),
         median(cpu_pipe, n));
  /* Every run of each side, in order: the pipeline's two modes show here. */
  printf("stream_hotwrap_runs=");
  for (size_t i = 0; i < n; i++) printf("%s%.0f", i ? " " : "", hw_mibs[i]);
  printf("\nstream_pipeline_runs=");
  for (size_t i = 0; i < n; i++) printf("%s%.0f", i ? " " : "", pipe_mibs[i]);
  putchar('\n');
  if (floor_sock) {
    printf("stream_floor_runs=");
    for (size_t i = 0; i < n; i++) printf("%s%.0f", i ? " " : "", floor_mibs[i]);
    putchar('\n');
    printf("stream_floor_mibs=%.1f\nstream_floor_ratio=%.3f\n", median(floor_mibs, n),
           median(floor_ratio, n));
    printf("stream_floor_best_mibs=%.1f\nstream_floor_best_ratio=%.3f\n",
           percentile(floor_mibs, n, 1),
           percentile(floor_mibs, n, 1) / percentile(pipe_mibs, n, 1));
  }
  printf("stream_reps=%d\nstream_chunk=%zu\nstream_mib=%.0f\n", reps, chunk, mib);
  return 0;
}

/* ---- calls: N small calls (to leave hotwrap idle after them) -----------------------------------
 */

static int cmd_calls(char** argv) {
  int n = atoi(argv[1]);
  size_t blen = (size_t)atol(argv[2]);
  char* body = malloc(blen);
  memset(body, 'b', blen);
  conn_t c;
  conn_open(&c, argv[0], 1 << 16);
  for (int i = 0; i < n; i++) small_call(&c, body, blen, body, blen);
  close(c.fd);
  return 0;
}

/* ---- prespawn: calls with idle time between them, prespawned vs spawned per call ---------------
 */

/* Sides: hotwrap with HOTWRAP_PRESPAWN=1, hotwrap spawning per call, and the floor: this program
 * holding a process of the same command started ahead of its call, written to directly. */
static int cmd_prespawn(char** argv) {
  int n = atoi(argv[2]), sleep_ms = atoi(argv[3]);
  char** cmd = argv + 4; /* the command, for the floor side */
  static const char body[] = "{\"name\":\"Bench\"}";
  static const char expect[] = "Hello Bench from Node!\n";
  enum { HOT, COLD, FLOOR, SIDES };
  conn_t hot, cold;
  conn_open(&hot, argv[0], 1 << 16);
  conn_open(&cold, argv[1], 1 << 16);
  double* t[SIDES];
  for (int s = 0; s < SIDES; s++) t[s] = malloc(sizeof(double) * (size_t)n);
  struct timespec idle = {sleep_ms / 1000, (long)(sleep_ms % 1000) * 1000000L};
  char out[256];
  bare_child warm;
  /* One call each first: node's own first-run caches, and the first prespawned process. */
  small_call(&hot, body, sizeof body - 1, expect, sizeof expect - 1);
  small_call(&cold, body, sizeof body - 1, expect, sizeof expect - 1);
  bare_start(cmd, &warm);
  for (int i = 0; i < n; i++) {
    for (int k = 0; k < SIDES; k++) {
      int s = i % 2 == 0 ? k : SIDES - 1 - k;
      nanosleep(&idle, NULL);
      uint64_t t0 = now_ns();
      if (s == FLOOR) {
        size_t got = bare_finish(&warm, body, sizeof body - 1, out, sizeof out);
        if (got != sizeof expect - 1 || memcmp(out, expect, got) != 0)
          die("floor: unexpected output");
      } else {
        small_call(s == HOT ? &hot : &cold, body, sizeof body - 1, expect, sizeof expect - 1);
      }
      t[s][i] = (double)(now_ns() - t0) / 1e6;
      if (s == FLOOR) bare_start(cmd, &warm); /* the next one boots while idle, as hotwrap's does */
    }
    fprintf(stderr, "  call %2d: prespawned %7.2f ms  per-call spawn %7.2f ms  floor %7.2f ms\n",
            i + 1, t[HOT][i], t[COLD][i], t[FLOOR][i]);
  }
  bare_finish(&warm, body, sizeof body - 1, out, sizeof out);
  double hot_ms = median(t[HOT], (size_t)n), cold_ms = median(t[COLD], (size_t)n);
  printf("pre_hot_ms=%.2f\npre_cold_ms=%.2f\npre_floor_ms=%.2f\npre_ratio=%.3f\n", hot_ms, cold_ms,
         median(t[FLOOR], (size_t)n), hot_ms / cold_ms);
  printf("pre_floor_ratio=%.3f\n", median(t[FLOOR], (size_t)n) / cold_ms);
  printf("pre_hot_ms_p90=%.2f\npre_cold_ms_p90=%.2f\npre_floor_ms_p90=%.2f\n",
         percentile(t[HOT], (size_t)n, 0.9), percentile(t[COLD], (size_t)n, 0.9),
         percentile(t[FLOOR], (size_t)n, 0.9));
  printf("pre_p10_ratio=%.3f\n",
         percentile(t[HOT], (size_t)n, 0.1) / percentile(t[COLD], (size_t)n, 0.1));
  printf("pre_calls=%d\npre_sleep_ms=%d\n", n, sleep_ms);
  return 0;
}

/* ---- conc: THREADS callers at once, each on its own connection, vs THREADS bare spawn loops ----
 */

typedef struct {
  const char* where; /* NULL: the bare loop */
  int calls;
  const char* body;
  size_t blen;
  pthread_barrier_t* go;
} conc_arg;

static void* conc_worker(void* p) {
  conc_arg* a = p;
  conn_t c;
  char* echo = malloc(a->blen + 1);
  if (a->where) conn_open(&c, a->where, 1 << 16);
  pthread_barrier_wait(a->go);
  for (int i = 0; i < a->calls; i++) {
    if (a->where) {
      small_call(&c, a->body, a->blen, a->body, a->blen);
    } else if (bare_spawn_call("cat", a->body, a->blen, echo, a->blen + 1) != a->blen) {
      die("bare cat: short echo");
    }
  }
  if (a->where) close(c.fd);
  free(echo);
  return NULL;
}

/* Calls per second of `threads` callers doing `calls` each, from the moment all are connected. */
static double conc_run(const char* where, int threads, int calls, const char* body, size_t blen) {
  pthread_t tid[64];
  conc_arg arg[64];
  pthread_barrier_t go;
  pthread_barrier_init(&go, NULL, (unsigned)threads + 1);
  for (int i = 0; i < threads; i++) {
    arg[i] = (conc_arg){where, calls, body, blen, &go};
    if (pthread_create(&tid[i], NULL, conc_worker, &arg[i]) != 0) die("pthread_create");
  }
  pthread_barrier_wait(&go);
  uint64_t t0 = now_ns();
  for (int i = 0; i < threads; i++) pthread_join(tid[i], NULL);
  double secs = (double)(now_ns() - t0) / 1e9;
  pthread_barrier_destroy(&go);
  return (double)threads * calls / secs;
}

static int cmd_conc(char** argv) {
  const char* hw = argv[0];
  int threads = atoi(argv[1]), calls = atoi(argv[2]), reps = atoi(argv[4]);
  size_t blen = (size_t)atol(argv[3]);
  if (threads < 1 || threads > 64 || reps < 1 || reps > 64) die("conc: 1-64 threads and reps");
  char* body = malloc(blen);
  for (size_t i = 0; i < blen; i++) body[i] = (char)('a' + i % 26);
  double hw_cps[64], bare_cps[64], ratio[64];
  conc_run(hw, threads, 10, body, blen); /* warm-up */
  conc_run(NULL, threads, 10, body, blen);
  for (int r = 0; r < reps; r++) {
    if (r % 2 == 0) {
      hw_cps[r] = conc_run(hw, threads, calls, body, blen);
      bare_cps[r] = conc_run(NULL, threads, calls, body, blen);
    } else {
      bare_cps[r] = conc_run(NULL, threads, calls, body, blen);
      hw_cps[r] = conc_run(hw, threads, calls, body, blen);
    }
    ratio[r] = hw_cps[r] / bare_cps[r];
    fprintf(stderr, "  rep %2d: hotwrap %7.0f calls/s  bare %7.0f calls/s  ratio %.3f\n", r + 1,
            hw_cps[r], bare_cps[r], ratio[r]);
  }
  printf("conc_hotwrap_cps=%.0f\nconc_bare_cps=%.0f\n", median(hw_cps, (size_t)reps),
         median(bare_cps, (size_t)reps));
  printf("conc_ratio=%.3f\nconc_best_ratio=%.3f\n", median(ratio, (size_t)reps),
         percentile(hw_cps, (size_t)reps, 1) / percentile(bare_cps, (size_t)reps, 1));
  printf("conc_threads=%d\nconc_calls=%d\nconc_reps=%d\n", threads, calls, reps);
  return 0;
}

int main(int argc, char** argv) {
  if (argc >= 7 && strcmp(argv[1], "lat") == 0) return cmd_lat(argv + 2);
  if (argc >= 8 && strcmp(argv[1], "stream") == 0) return cmd_stream(argv + 2);
  if (argc >= 5 && strcmp(argv[1], "calls") == 0) return cmd_calls(argv + 2);
  if (argc >= 7 && strcmp(argv[1], "prespawn") == 0) return cmd_prespawn(argv + 2);
  if (argc >= 7 && strcmp(argv[1], "conc") == 0) return cmd_conc(argv + 2);
  fprintf(stderr,
          "usage: client lat HWSOCK NULLSOCK BATCHES CALLS BODY_BYTES\n"
          "       client stream HWSOCK NULLSOCK BYTES REPS CHUNK_BYTES NULL_REPS [FLOORSOCK]\n"
          "       client calls SOCK N BODY_BYTES\n"
          "       client prespawn HOTSOCK COLDSOCK N SLEEP_MS COMMAND [ARGS...]\n");
  return 2;
}
