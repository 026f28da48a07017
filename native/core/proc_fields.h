// Field layout shared by the native sampler and the pure-TS sampler
// (src/collectors/proc/fields.ts lists the same names in the same order;
// a test compares them through the addon's procFieldNames()).
#pragma once

namespace labtel {

enum ProcField {
  F_UTIME,          // stat 14, clock ticks
  F_STIME,          // stat 15
  F_MINFLT,         // stat 10
  F_MAJFLT,         // stat 12
  F_NUM_THREADS,    // stat 20
  F_STARTTIME,      // stat 22, clock ticks since boot
  F_VSIZE,          // stat 23, bytes
  F_STATE,          // stat 3, the state letter as a char code
  F_PROCESSOR,      // stat 39, CPU last run on
  F_RSS_BYTES,      // statm resident * page size
  F_SHARED_BYTES,   // statm shared * page size
  F_TEXT_BYTES,     // statm text * page size
  F_DATA_BYTES,     // statm data * page size
  F_RSS_PEAK_BYTES, // status VmHWM
  F_SWAP_BYTES,     // status VmSwap
  F_VOL_CTXT,       // status voluntary_ctxt_switches
  F_NONVOL_CTXT,    // status nonvoluntary_ctxt_switches
  F_IO_RCHAR,       // io rchar
  F_IO_WCHAR,       // io wchar
  F_IO_READ_BYTES,  // io read_bytes
  F_IO_WRITE_BYTES, // io write_bytes
  F_CPU_TIME_NS,    // the process's threads' task/*/schedstat, summed (proc_sampler.h)
  F_RUN_DELAY_NS,
  F_RUN_PERIODS,
  F_COUNT
};

// The files one sample reads; errors are reported per file.
enum ProcFile { PF_STAT, PF_STATM, PF_STATUS, PF_IO, PF_COUNT };

// The errors a sample reports (JS's errors array): one per file, then the
// scheduler sum's errno (0, an errno, or kSchedNone) and the tid whose
// schedstat failed (0 when the failure is task/ itself).
enum ProcErrorSlot { PE_SCHED = PF_COUNT, PE_SCHED_TID, PE_COUNT };
// The kernel keeps no scheduler statistics: the sum is null for that reason.
constexpr int kSchedNone = -1;

extern const char* const kProcFieldNames[F_COUNT];
extern const char* const kProcFileNames[PF_COUNT];

}  // namespace labtel
