// The proc collector's fast loop at short intervals, in C++: sleep to each
// deadline of the schedule, sample, and format the row, for a batch of
// periods, so that JavaScript runs once per batch instead of once per row.
// Only rows like the last one the caller formatted (same errors, same nulls,
// same process) are formatted here; any other sample (the target exited or
// restarted, a file became unreadable) is handed back unformatted, for the
// caller's own code to judge.
#pragma once
#include <cstdint>
#include <string>

#include "proc_fields.h"
#include "proc_sampler.h"

namespace labtel {

// How the rows are spelled and scheduled; set once per sampler.
struct ProcBatchFormat {
  std::string head;       // up to the time: {"source":"host_proc","t_mono_ns":
  std::string seq_key;    // ,"seq":
  std::string after_seq;  // the rest of the envelope: ,"available_in_deployment":true
  int64_t origin_ns = 0;  // the episode clock's CLOCK_MONOTONIC origin
  int64_t period_ns = 1000000;
  int max_rows = 1;       // rows per batch, at most
};

// The rows this loop may format: a sample with exactly these errors per file
// and these fields missing, whose null_reasons (without interval_s) are
// `reasons`, a JSON object, or "" when it has none.
struct ProcRowSignature {
  bool set = false;
  int err[PE_COUNT] = {};  // the CPU clock's and taskstats' slots included
  uint32_t nan_mask = 0;  // bit i: field i is NaN
  std::string reasons;
};

uint32_t nan_mask_of(const double* v);

struct ProcBatchState {
  double seq = 0;        // in: the first row's seq; out: the next one
  int64_t prev_t = 0;    // in/out: episode ns of the previous row of this process
  double identity = 0;   // the starttime every row formatted here carries
  int64_t next_ns = 0;   // in/out: CLOCK_MONOTONIC deadline of the last tick
};

enum ProcBatchEnd { kBatchFull = 0, kBatchStopped = 1, kBatchHandoff = 2 };

struct ProcBatchResult {
  ProcBatchEnd end = kBatchFull;
  int rows = 0;
  int measured = 0;       // rows with any measured field (all but starttime)
  int64_t handoff_t = 0;  // episode ns of the sample left in *handoff
};

// Runs until max_rows rows are formatted, *stop is nonzero (checked after
// every sleep, as util/pace.ts checks its flag), or a sample the signature
// does not cover, which is left in *handoff. Keeps util/pace.ts's schedule:
// k periods from the start, resynced to now when over ten periods behind.
ProcBatchResult run_proc_batch(ProcSampler* sampler, const ProcBatchFormat& format, const ProcRowSignature& sig,
                               ProcBatchState* state, const int32_t* stop, std::string* out, ProcSample* handoff);

// One row as the loop formats it (exposed for the core tests).
void append_proc_row(std::string* out, const ProcBatchFormat& format, const ProcRowSignature& sig, int pid,
                     int64_t t, double seq, int64_t prev_t, const ProcSample& s);

}  // namespace labtel
