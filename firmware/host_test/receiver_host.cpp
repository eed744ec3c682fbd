// The receiver's parser and watchdog on a host, reading a tty: the board's code, tested
// against the Python sender through a real pseudo-terminal (tests/test_receiver.py).
//
//   receiver_host PATH|fd:N [--capacity 48|4096] [--watchdog-ms MS] [--off-level L]
//
// Prints one JSON line a event on stdout: "ready" once the line is open, "frame" for each good
// frame (its levels), "watchdog_off" when the watchdog switches everything off, and on SIGTERM
// or SIGINT "counters" before it exits. Times are milliseconds from the start, CLOCK_MONOTONIC.
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "../sugarglass_receiver/sugarglass_frame.h"

static volatile sig_atomic_t stopping = 0;
static void on_signal(int) { stopping = 1; }

static uint32_t now_ms(const timespec &start) {
  timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint32_t)((t.tv_sec - start.tv_sec) * 1000 + (t.tv_nsec - start.tv_nsec) / 1000000);
}

static void print_frame(const uint16_t *levels, uint16_t count, void *context) {
  printf("{\"event\":\"frame\",\"ms\":%u,\"levels\":[", *(const unsigned *)context);
  for (uint16_t e = 0; e < count; e++) printf(e ? ",%u" : "%u", (unsigned)levels[e]);
  printf("]}\n");
}

template <uint16_t C>
static int run(int fd, uint32_t watchdog_ms, uint16_t off_level) {
  static sugarglass::Receiver<C> receiver(watchdog_ms, off_level);
  timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  printf("{\"event\":\"ready\",\"capacity\":%u,\"watchdog_ms\":%u}\n", (unsigned)C, (unsigned)watchdog_ms);
  unsigned now = 0;
  receiver.on_frame = print_frame;
  receiver.context = &now;
  uint8_t chunk[4096];
  while (!stopping) {
    pollfd p = {fd, POLLIN, 0};
    int ready = poll(&p, 1, 5);
    ssize_t got = 0;
    if (ready > 0 && (p.revents & POLLIN)) got = read(fd, chunk, sizeof chunk);
    if (ready > 0 && got <= 0) usleep(5000);  // the other end closed (a pulled cable): wait for it
    now = now_ms(start);
    for (ssize_t i = 0; i < got; i++) receiver.feed(chunk[i], now);
    if (receiver.tick(now)) {
      printf("{\"event\":\"watchdog_off\",\"ms\":%u,\"silent_ms\":%u,\"off_level\":%u}\n", (unsigned)now,
             (unsigned)(now - receiver.last_frame_ms()), (unsigned)receiver.off_level);
    }
  }
  const sugarglass::Counters &c = receiver.counters;
  printf("{\"event\":\"counters\",\"frames\":%u,\"crc_errors\":%u,\"end_errors\":%u,\"length_errors\":%u,"
         "\"resyncs\":%u,\"skipped\":%u,\"watchdog_trips\":%u}\n",
         (unsigned)c.frames, (unsigned)c.crc_errors, (unsigned)c.end_errors, (unsigned)c.length_errors,
         (unsigned)c.resyncs, (unsigned)c.skipped, (unsigned)c.watchdog_trips);
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s PATH|fd:N [--capacity 48|4096] [--watchdog-ms MS] [--off-level L]\n", argv[0]);
    return 2;
  }
  unsigned capacity = 48, watchdog_ms = 2000, off_level = 0;
  for (int i = 2; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--capacity")) capacity = (unsigned)atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--watchdog-ms")) watchdog_ms = (unsigned)atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--off-level")) off_level = (unsigned)atoi(argv[i + 1]);
    else { fprintf(stderr, "unknown option %s\n", argv[i]); return 2; }
  }
  int fd = !strncmp(argv[1], "fd:", 3) ? atoi(argv[1] + 3) : open(argv[1], O_RDWR | O_NOCTTY);
  if (fd < 0) { fprintf(stderr, "cannot open %s: %s\n", argv[1], strerror(errno)); return 1; }
  termios raw;
  if (tcgetattr(fd, &raw) == 0) {  // every byte as it comes: no echo, no line editing, no CR/LF mapping
    cfmakeraw(&raw);
    tcsetattr(fd, TCSANOW, &raw);
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  struct sigaction action;
  memset(&action, 0, sizeof action);
  action.sa_handler = on_signal;  // no SA_RESTART: poll() returns at once
  sigaction(SIGTERM, &action, NULL);
  sigaction(SIGINT, &action, NULL);
  if (capacity == 48) return run<48>(fd, watchdog_ms, (uint16_t)off_level);
  if (capacity == sugarglass::MAX_LEVELS) return run<sugarglass::MAX_LEVELS>(fd, watchdog_ms, (uint16_t)off_level);
  fprintf(stderr, "--capacity must be 48 or %u\n", (unsigned)sugarglass::MAX_LEVELS);
  return 2;
}
