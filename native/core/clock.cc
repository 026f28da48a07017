#include "clock.h"

#include <time.h>

namespace labtel {

static int64_t now_ns(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}

ClockReading read_clocks() {
  ClockReading best{0, 0, 0};
  int64_t best_width = INT64_MAX;
  for (int i = 0; i < 5; i++) {
    ClockReading r;
    r.mono_before_ns = now_ns(CLOCK_MONOTONIC);
    r.realtime_ns = now_ns(CLOCK_REALTIME);
    r.mono_after_ns = now_ns(CLOCK_MONOTONIC);
    if (r.mono_after_ns - r.mono_before_ns < best_width) {
      best = r;
      best_width = r.mono_after_ns - r.mono_before_ns;
    }
  }
  return best;
}

}  // namespace labtel
