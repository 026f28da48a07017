#include "proc_batch.h"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <memory>
#include <time.h>

#include "proc_row_json.h"

namespace labtel {

namespace {

int64_t mono_ns() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}

// `,"name":` for each field, as run-loop.ts's MEMBER, and the room a row's
// own text (all but the format's and the signature's strings) can take.
struct Members {
  std::string m[F_COUNT];
  size_t room = 0;
  Members() {
    for (int i = 0; i < F_COUNT; i++) {
      m[i] = std::string(",\"") + kProcFieldNames[i] + "\":";
      room += m[i].size() + kJsNumberMax;
    }
    room += 128 + 4 * kJsNumberMax;  // the literals, t, seq, pid, interval_s
  }
};
const Members kMembers;

inline char* put(char* w, const std::string& s) {
  std::memcpy(w, s.data(), s.size());
  return w + s.size();
}
template <size_t N>
inline char* put(char* w, const char (&lit)[N]) {
  std::memcpy(w, lit, N - 1);
  return w + N - 1;
}

bool covered(const ProcRowSignature& sig, const ProcSample& s, double identity) {
  if (!sig.set) return false;
  for (int f = 0; f < PE_COUNT; f++)
    if (s.err[f] != sig.err[f]) return false;
  if (nan_mask_of(s.v) != sig.nan_mask) return false;
  // Exited (or a zombie, whose files read as zeros), or another process: the caller's.
  double state = s.v[F_STATE];
  if (state == 'Z' || state == 'X') return false;
  return s.v[F_STARTTIME] == identity;  // false for NaN too
}

}  // namespace

uint32_t nan_mask_of(const double* v) {
  uint32_t m = 0;
  for (int i = 0; i < F_COUNT; i++)
    if (std::isnan(v[i])) m |= 1u << i;
  return m;
}

void append_proc_row(std::string* out, const ProcBatchFormat& f, const ProcRowSignature& sig, int pid, int64_t t,
                     double seq, int64_t prev_t, const ProcSample& s) {
  // Written into one buffer, then appended once (a row is ~560 bytes of ~50
  // pieces: appending each was most of the row's cost).
  size_t room = kMembers.room + f.head.size() + f.seq_key.size() + f.after_seq.size() + sig.reasons.size();
  char local[2048];
  std::unique_ptr<char[]> heap;
  char* buf = local;
  if (room > sizeof local) {  // a long format or null_reasons: not the steady case
    heap.reset(new char[room]);
    buf = heap.get();
  }
  char* w = put(buf, f.head);
  w = write_js_number(w, static_cast<double>(t));
  w = put(w, f.seq_key);
  w = write_js_number(w, seq);
  w = put(w, f.after_seq);
  if (!sig.reasons.empty()) {
    w = put(w, ",\"null_reasons\":");
    w = put(w, sig.reasons);
  }
  w = put(w, ",\"pid\":");
  w = write_js_number(w, pid);
  w = put(w, ",\"starttime\":");
  w = write_js_number(w, s.v[F_STARTTIME]);
  w = put(w, ",\"process_event\":null,\"interval_s\":");
  w = write_js_seconds_of_ns(w, t - prev_t);
  for (int i = 0; i < F_COUNT; i++) {
    if (i == F_STARTTIME) continue;
    w = put(w, kMembers.m[i]);
    double x = s.v[i];
    if (std::isnan(x)) w = put(w, "null");
    else if (i == F_STATE) w = write_state_json(w, static_cast<int>(x));
    else w = write_js_number(w, x);
  }
  w = put(w, "}\n");
  out->append(buf, w);
}

ProcBatchResult run_proc_batch(ProcSampler* sampler, const ProcBatchFormat& f, const ProcRowSignature& sig,
                               ProcBatchState* st, const int32_t* stop, std::string* out, ProcSample* handoff) {
  ProcBatchResult res;
  const int64_t period = f.period_ns;
  const uint32_t measured_fields = ((1u << F_COUNT) - 1) & ~(1u << F_STARTTIME);
  ProcSample s;
  for (;;) {
    st->next_ns += period;
    int64_t now = mono_ns();
    int64_t wait = st->next_ns - now;
    if (wait < -10 * period) st->next_ns = now;
    if (wait > 0) {
      struct timespec ts = {static_cast<time_t>(st->next_ns / 1000000000LL), static_cast<long>(st->next_ns % 1000000000LL)};
      while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
      }
    }
    if (__atomic_load_n(stop, __ATOMIC_ACQUIRE) != 0) {
      res.end = kBatchStopped;
      return res;
    }
    int64_t t = mono_ns() - f.origin_ns;
    sampler->sample(&s);
    if (!covered(sig, s, st->identity)) {
      *handoff = s;
      res.handoff_t = t;
      res.end = kBatchHandoff;
      return res;
    }
    append_proc_row(out, f, sig, sampler->pid(), t, st->seq, st->prev_t, s);
    if ((sig.nan_mask & measured_fields) != measured_fields) res.measured++;
    res.rows++;
    st->seq += 1;
    st->prev_t = t;
    if (res.rows >= f.max_rows) {
      res.end = kBatchFull;
      return res;
    }
  }
}

}  // namespace labtel
