// One reading of CLOCK_REALTIME bracketed by two CLOCK_MONOTONIC readings,
// so the realtime-minus-monotonic offset is known with a stated uncertainty.
#pragma once
#include <cstdint>

namespace labtel {

struct ClockReading {
  int64_t mono_before_ns;
  int64_t realtime_ns;
  int64_t mono_after_ns;
};

// Takes a few bracketed readings and keeps the tightest bracket.
ClockReading read_clocks();

}  // namespace labtel
