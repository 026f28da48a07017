#!/usr/bin/env bash
# Records golden /proc fixtures from REAL processes on this machine, for the
# native core tests (native/test/core_tests.cc) and the TypeScript tests.
#
#   scripts/record-proc-fixtures.sh [OUT]     (OUT defaults to test/fixtures/proc)
#
# It copies, as the kernel wrote them, /proc/PID/{stat,statm,status,io} and
# /proc/PID/task/*/stat (and, for qemu-like, task/*/schedstat) into
# OUT/<case>/proc/<PID>/... and writes nothing else
# (no expected.json: those are computed by hand from the copied text, so the
# golden test does not depend on the code it checks). Pids are kept as
# recorded. Run as root so that kthreadd's io is readable.
#
# Cases it records:
#   qemu-like      python3 with two extra threads; the process names itself
#                  qemu-system-x86 and its threads "CPU 0/TCG" and "CPU 1/TCG"
#                  through prctl(PR_SET_NAME), as QEMU names its vCPU threads,
#                  so the kernel itself writes those comms. Its threads'
#                  schedstat is copied too.
#   no-io          a plain sleep(1); its io file is not copied (as when
#                  /proc/PID/io is not readable), nor any schedstat (as on a
#                  kernel without CONFIG_SCHED_INFO: the samplers say ENOENT).
#   kernel-thread  kthreadd (pid 2); no schedstat copied, as for no-io.
#   garbage        not recorded: hand-written hostile text.
#
# Edit made by hand after recording (the only change to kernel-written text):
#   qemu-like/proc/<PID>/stat: the comm "(qemu-system-x86)" became
#   "((qemu) x))", so the comm holds a space and ')' and only parsing up to
#   the LAST ')' finds the fields. task/<PID>/stat keeps the kernel's comm.
#   qemu-like/proc/<PID>/task/*/schedstat: these files were added after the
#   case was recorded. They come from a later run of this script (the same
#   workload), copied to the thread of the same comm; then the first value
#   (ns on CPU) of "CPU 0/TCG" became 9007199254740993 (2^53 + 1, which no
#   double holds: both samplers must give 9007199254740992, ties to even).
set -euo pipefail

OUT=${1:-test/fixtures/proc}

die() { echo "record-proc-fixtures: $*" >&2; exit 1; }
command -v python3 >/dev/null || die "python3 is needed for the qemu-like workload"

# copy_proc CASE PID [with-io|without-io] [with-schedstat|without-schedstat]:
# the per-process files and every thread's stat (and schedstat).
copy_proc() {
  local case=$1 pid=$2 io=${3:-with-io} sched=${4:-without-schedstat}
  local dst="$OUT/$case/proc/$pid"
  rm -rf "${OUT:?}/$case/proc"
  mkdir -p "$dst/task"
  local f
  for f in stat statm status; do cat "/proc/$pid/$f" >"$dst/$f"; done
  if [[ $io == with-io ]]; then
    cat "/proc/$pid/io" >"$dst/io" 2>/dev/null || {
      rm -f "$dst/io"
      echo "record-proc-fixtures: $case: /proc/$pid/io not readable, not copied" >&2
    }
  fi
  local t
  for t in /proc/"$pid"/task/*; do
    local tid=${t##*/}
    mkdir -p "$dst/task/$tid"
    cat "$t/stat" >"$dst/task/$tid/stat"
    if [[ $sched == with-schedstat ]]; then
      cat "$t/schedstat" >"$dst/task/$tid/schedstat" 2>/dev/null || {
        rm -f "$dst/task/$tid/schedstat"
        echo "record-proc-fixtures: $case: $t/schedstat not readable (no CONFIG_SCHED_INFO?), not copied" >&2
      }
    fi
  done
  echo "record-proc-fixtures: $case: pid $pid, threads: $(ls "$dst/task" | tr '\n' ' ')"
}

# Waits until FILE holds a line (the workload writes "ready" there).
wait_ready() {
  local file=$1 i
  for i in $(seq 1 100); do
    [[ -s $file ]] && return 0
    sleep 0.05
  done
  die "workload did not get ready"
}

pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [[ -n ${tmp:-} ]] && rm -rf "$tmp"
}
tmp=$(mktemp -d)
trap cleanup EXIT

# --- qemu-like: a real 3-thread process that names itself like QEMU -------
python3 - "$tmp/ready" <<'PY' &
import ctypes, sys, threading, time
libc = ctypes.CDLL(None, use_errno=True)
PR_SET_NAME = 15
def name(s):  # names the calling thread, as QEMU's qemu_thread_set_name does
    if libc.prctl(PR_SET_NAME, s.encode(), 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl")
def spin(seconds):
    end = time.process_time() + seconds
    x = 0
    while time.process_time() < end:
        x += 1
started = []
stop = threading.Event()
def vcpu(i):
    name(f"CPU {i}/TCG")
    spin(0.2)          # some user time, so the jiffies are not all zero
    started.append(i)
    stop.wait()
name("qemu-system-x86")
with open("/dev/null", "wb") as f:
    f.write(b"x" * 65536)   # a little wchar
threads = [threading.Thread(target=vcpu, args=(i,)) for i in (0, 1)]
for t in threads: t.start()
while len(started) < 2: time.sleep(0.01)
open(sys.argv[1], "w").write("ready\n")
stop.wait()
PY
qpid=$!
pids+=("$qpid")
wait_ready "$tmp/ready"
sleep 0.2   # let every thread settle in its wait, so the files agree
copy_proc qemu-like "$qpid" with-io with-schedstat

# --- no-io: a plain single-thread process, io not copied -------------------
sleep 1000 &
spid=$!
pids+=("$spid")
for _ in $(seq 1 100); do
  [[ $(readlink "/proc/$spid/exe" 2>/dev/null) == */sleep ]] && break
  sleep 0.02
done
sleep 0.1
copy_proc no-io "$spid" without-io without-schedstat

# --- kernel-thread: kthreadd ------------------------------------------------
grep -q '^Name:[[:space:]]*kthreadd$' /proc/2/status || die "pid 2 is not kthreadd here"
copy_proc kernel-thread 2 with-io without-schedstat

echo "record-proc-fixtures: done; now hand-edit qemu-like's stat comm and CPU 0/TCG's schedstat (see the header) and write each case's expected.json"
