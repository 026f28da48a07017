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
  F_CPU_TIME_NS,    // the kernel's CPU clock of the whole process (clock_getcpuclockid)
  F_RUN_DELAY_NS,   // taskstats of the thread group: cpu_delay_total
  F_RUN_PERIODS,    // taskstats of the thread group: cpu_count
  F_COUNT
};

// The files one sample reads; errors are reported per file.
enum ProcFile { PF_STAT, PF_STATM, PF_STATUS, PF_IO, PF_COUNT };

// The errors a sample reports (JS's errors array): one per file, then those
// of the two sources asked by pid number rather than through /proc: the
// process CPU clock's and taskstats'. Each is 0, an errno, or one of the
// kClock* codes below (they mean the same for both sources).
enum ProcErrorSlot { PE_CLOCK = PF_COUNT, PE_TASKSTATS, PE_COUNT };
constexpr int kClockTs = -1;           // the pure-TS sampler (no clock, no netlink); set by TS only
constexpr int kClockNotProc = -2;      // proc_root is not /proc: the kernel's pid is not that root's process
constexpr int kClockUnconfirmed = -3;  // stat could not be read afterwards: whose figures they were is unknown
constexpr int kClockOtherPidNs = -4;   // /proc is another pid namespace's (its self is not getpid()): its pids are not the kernel's
constexpr int kTaskstatsNoDelayAcct = -5;  // taskstats answered 0 ns on a CPU: this kernel keeps no delay accounting
constexpr int kTaskstatsTwice = -6;  // taskstats gave more CPU time than the process's CPU clock allows: an exiting thread counted twice
constexpr int kTaskstatsFell = -7;   // taskstats gave less than the figures last written: that answer counted an exiting thread twice

extern const char* const kProcFieldNames[F_COUNT];
extern const char* const kProcFileNames[PF_COUNT];

}  // namespace labtel
