/*
 * The C floor for scripts/bench/proc.ts: what re-reading /proc/PID/{stat,
 * statm,status,io} costs with nothing on top. The four descriptors stay open;
 * each sample is one pread(2) of each at offset 0, into one buffer, with no
 * parsing (any sampler pays at least this much in the kernel).
 *
 *   proc-floor PID [ITERATIONS [WARMUP [PERIOD_US]]]
 *
 * Back to back (PERIOD_US 0, the default) it prints one line:
 *   "<wall us per sample> <bytes per sample>".
 * With PERIOD_US > 0 it sleeps to a fixed schedule (clock_nanosleep,
 * TIMER_ABSTIME) between samples, as an agent sampling every PERIOD_US
 * would, and prints the CPU that costs (getrusage, user+sys), which includes
 * the sleep and wake-up:
 *   "<cpu us per sample> <bytes per sample> <samples per s>".
 * PID 0 opens and reads nothing: with PERIOD_US > 0 it measures what the
 * sleep and wake-up alone cost on this machine (the wake-up floor); bytes 0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static const char *const kFiles[4] = {"stat", "statm", "status", "io"};

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static double cpu_us(void) {
  struct rusage r;
  getrusage(RUSAGE_SELF, &r);
  return (double)(r.ru_utime.tv_sec + r.ru_stime.tv_sec) * 1e6 + (double)(r.ru_utime.tv_usec + r.ru_stime.tv_usec);
}

/* One sample: the bytes read, or -1 (errno set). */
static long sample(const int fds[4], char *buf, size_t cap) {
  long total = 0;
  for (int f = 0; f < 4; f++) {
    ssize_t r;
    do r = pread(fds[f], buf, cap, 0); while (r < 0 && errno == EINTR);
    if (r < 0) return -1;
    total += r;
  }
  return total;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s PID [ITERATIONS [WARMUP [PERIOD_US]]]\n", argv[0]);
    return 2;
  }
  long pid = strtol(argv[1], NULL, 10);
  long iters = argc > 2 ? strtol(argv[2], NULL, 10) : 20000;
  long warmup = argc > 3 ? strtol(argv[3], NULL, 10) : 2000;
  long period_us = argc > 4 ? strtol(argv[4], NULL, 10) : 0;
  if (pid < 0 || iters <= 0 || warmup < 0 || period_us < 0 || (pid == 0 && period_us == 0)) {
    fprintf(stderr, "proc-floor: bad arguments\n");
    return 2;
  }

  int fds[4] = {-1, -1, -1, -1};
  for (int f = 0; pid > 0 && f < 4; f++) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/%s", pid, kFiles[f]);
    fds[f] = open(path, O_RDONLY | O_CLOEXEC);
    if (fds[f] < 0) {
      fprintf(stderr, "proc-floor: open %s: %s\n", path, strerror(errno));
      return 1;
    }
  }

  static char buf[8192];
  long bytes = 0;
  for (long i = 0; pid > 0 && i < warmup; i++) {
    if (sample(fds, buf, sizeof buf) < 0) {
      fprintf(stderr, "proc-floor: pread: %s\n", strerror(errno));
      return 1;
    }
  }
  struct timespec next;
  clock_gettime(CLOCK_MONOTONIC, &next);
  double c0 = cpu_us();
  double t0 = now_us();
  for (long i = 0; i < iters; i++) {
    if (period_us > 0) {
      next.tv_nsec += period_us * 1000;
      while (next.tv_nsec >= 1000000000L) {
        next.tv_nsec -= 1000000000L;
        next.tv_sec++;
      }
      while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR) {
      }
    }
    long n = pid > 0 ? sample(fds, buf, sizeof buf) : 0;
    if (n < 0) {
      fprintf(stderr, "proc-floor: pread: %s\n", strerror(errno));
      return 1;
    }
    bytes = n;
  }
  double t1 = now_us();
  double c1 = cpu_us();

  for (int f = 0; f < 4; f++)
    if (fds[f] >= 0) close(fds[f]);
  if (period_us > 0) printf("%.3f %ld %.0f\n", (c1 - c0) / (double)iters, bytes, (double)iters / ((t1 - t0) / 1e6));
  else printf("%.3f %ld\n", (t1 - t0) / (double)iters, bytes);
  return 0;
}
