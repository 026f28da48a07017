/*
 * The wake-up floor for scripts/bench/proc.ts: what one wake-up on a fixed
 * 1 ms schedule costs in CPU on this machine when the thread does no work at
 * all, for each way a sampler can sleep. No busy-polling: every method
 * blocks in the kernel until its deadline.
 *
 *   wake-floor METHOD [WAKE_UPS [PERIOD_US]]
 *
 * METHOD:
 *   nanosleep  clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME) to k * period
 *   timerfd    a periodic CLOCK_MONOTONIC timerfd, one blocking read(2) per tick
 *   futex      FUTEX_WAIT with a relative timeout to the next k * period (what
 *              pthread_cond_timedwait, and so V8's Atomics.wait, sleep in)
 *
 * Prints one line: "<cpu us per wake-up> <wake-ups per s> <late p99 us>
 * <deadlines missed>", the CPU being this thread's on-CPU time
 * (/proc/thread-self/schedstat, which is what getrusage scales to) over the
 * run, and "late" how far after its deadline each wake-up came back to user
 * space. A deadline already past when the loop comes back to it (a stall, a
 * loaded machine) is missed, not slept to: every method goes on to the next
 * deadline ahead, as a timerfd counts its overruns, so each wake-up counted
 * is a sleep in the kernel.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

static int64_t mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* On-CPU ns of this thread so far. */
static int64_t thread_cpu_ns(void) {
  char buf[128];
  int fd = open("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return -1;
  buf[n] = 0;
  return strtoll(buf, NULL, 10);
}

static int cmp64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s nanosleep|timerfd|futex [WAKE_UPS [PERIOD_US]]\n", argv[0]);
    return 2;
  }
  const char *method = argv[1];
  long n = argc > 2 ? strtol(argv[2], NULL, 10) : 2000;
  long period_us = argc > 3 ? strtol(argv[3], NULL, 10) : 1000;
  if (n <= 0 || period_us <= 0) {
    fprintf(stderr, "wake-floor: bad arguments\n");
    return 2;
  }
  int m = !strcmp(method, "nanosleep") ? 0 : !strcmp(method, "timerfd") ? 1 : !strcmp(method, "futex") ? 2 : -1;
  if (m < 0) {
    fprintf(stderr, "wake-floor: unknown method %s\n", method);
    return 2;
  }
  int64_t period = (int64_t)period_us * 1000;
  int64_t *late = calloc((size_t)n, sizeof *late);
  if (!late) return 1;
  int tfd = -1;
  static uint32_t futex_word = 0; /* never changes: every wait times out */

  int64_t start = mono_ns();
  if (m == 1) {
    tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
    if (tfd < 0) {
      fprintf(stderr, "wake-floor: timerfd_create: %s\n", strerror(errno));
      return 1;
    }
    struct itimerspec its;
    its.it_interval.tv_sec = period / 1000000000LL;
    its.it_interval.tv_nsec = period % 1000000000LL;
    its.it_value.tv_sec = (start + period) / 1000000000LL;
    its.it_value.tv_nsec = (start + period) % 1000000000LL;
    if (timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL) < 0) {
      fprintf(stderr, "wake-floor: timerfd_settime: %s\n", strerror(errno));
      return 1;
    }
  }
  int64_t c0 = thread_cpu_ns();
  int64_t t0 = mono_ns();
  int64_t next = start;
  int64_t missed = 0;
  for (long i = 0; i < n; i++) {
    next += period;
    if (m != 1) {
      int64_t now = mono_ns();
      if (next <= now) {
        int64_t k = (now - next) / period + 1;
        next += k * period;
        missed += k;
      }
    }
    if (m == 0) {
      struct timespec ts = {next / 1000000000LL, next % 1000000000LL};
      while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
      }
    } else if (m == 1) {
      uint64_t ticks = 1;
      while (read(tfd, &ticks, sizeof ticks) < 0 && errno == EINTR) {
      }
      if (ticks > 1) { /* overran: the timer counts the ticks missed */
        next += (int64_t)(ticks - 1) * period;
        missed += (int64_t)(ticks - 1);
      }
    } else {
      int64_t wait = next - mono_ns();
      if (wait > 0) {
        struct timespec ts = {wait / 1000000000LL, wait % 1000000000LL};
        syscall(SYS_futex, &futex_word, FUTEX_WAIT_PRIVATE, 0, &ts, NULL, 0);
      }
    }
    late[i] = mono_ns() - next;
  }
  int64_t t1 = mono_ns();
  int64_t c1 = thread_cpu_ns();
  if (tfd >= 0) close(tfd);
  qsort(late, (size_t)n, sizeof *late, cmp64);
  printf("%.3f %.0f %.1f %lld\n", (double)(c1 - c0) / 1e3 / (double)n, (double)n / ((double)(t1 - t0) / 1e9),
         (double)late[(size_t)(0.99 * (double)(n - 1))] / 1e3, (long long)missed);
  free(late);
  return 0;
}
