/* The floor for size, memory and start-up: a static glibc + libevent_core program that creates
 * an event base and sleeps (with an argument: exits at once, for timing a start). */
#include <event2/event.h>
#include <unistd.h>

int main(int argc, char** argv) {
  (void)argv;
  struct event_base* base = event_base_new();
  if (base == NULL) return 1;
  if (argc > 1) return 0;
  for (;;) pause();
}
