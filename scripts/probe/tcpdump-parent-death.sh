#!/usr/bin/env bash
# Probe (issue 17 point 5): does tcpdump on an IDLE link outlive a parent that
# is SIGKILLed? As root. A node parent spawns tcpdump from a worker thread (as
# labtel's collectors do), with its stdout on a pipe; once tcpdump listens the
# parent is SIGKILLed and tcpdump's pid is watched for 5 s. Two ways to start it:
#   old: setpriv --pdeathsig KILL -- tcpdump ...   (Debian's tcpdump then drops
#        root for user tcpdump itself; the uid change clears the signal)
#   new: setpriv as user tcpdump, CAP_NET_RAW ambient, no_new_privs, then the
#        signal (what src/collectors/pcap/tcpdump-args.ts builds)
#   pidns: a supervisor that survives any clearing of tcpdump's own signal (an
#        AppArmor or SELinux transition at its exec clears it too): tcpdump,
#        left to drop root itself as in "old", runs as pid 2 of a PID
#        namespace whose init (an `unshare --fork` that keeps its own
#        parent-death signal) takes every process of the namespace down when it
#        dies. Not what labtel runs yet (see src/collectors/pcap/README.md).
# Prints the spawned child's uid and capabilities (for pidns, of tcpdump two
# levels down), then "gone after N ms" or "STILL RUNNING".
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 2; }
a="ltp$RANDOM"; b="${a}b"
tmp=$(mktemp -d)
cleanup() { ip link del "$a" 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
ip link add "$a" type veth peer name "$b"
for d in "$a" "$b"; do echo 1 > "/proc/sys/net/ipv6/conf/$d/disable_ipv6"; ip link set "$d" up; done
cat > "$tmp/parent.cjs" <<'JS'
const { Worker, isMainThread, workerData, parentPort } = require('node:worker_threads');
const { spawn } = require('node:child_process');
if (isMainThread) {
  new Worker(__filename, { workerData: process.argv.slice(2) }).on('message', (m) => console.log(m));
  setInterval(() => {}, 1000);
} else {
  const c = spawn(workerData[0], workerData.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  c.stdout.on('data', () => {});
  c.stderr.on('data', (d) => parentPort.postMessage(String(d).trim()));
  parentPort.postMessage(`pid ${c.pid}`);
  setInterval(() => {}, 1000);
}
JS
uid=$(id -u tcpdump); gid=$(id -g tcpdump)
probe() {
  local label=$1; shift
  node "$tmp/parent.cjs" "$@" > "$tmp/out" 2>&1 &
  local parent=$!
  for _ in $(seq 100); do grep -q 'listening on' "$tmp/out" && break; sleep 0.1; done
  local t; t=$(sed -n 's/^pid //p' "$tmp/out")
  # Down to the leaf (tcpdump) when the spawned process is a supervisor.
  while c=$(cat /proc/"$t"/task/*/children 2>/dev/null | tr -d ' ') && [ -n "$c" ]; do t=$c; done
  echo "$label: tcpdump pid $t: $(grep -E '^(Uid|CapEff|CapAmb|NoNewPrivs):' "/proc/$t/status" | tr -s '\t\n' '  ')"
  kill -KILL "$parent"; wait "$parent" 2>/dev/null || true
  local t0; t0=$(date +%s%N)
  for _ in $(seq 500); do
    if [ ! -e "/proc/$t" ] || grep -q '^State:.*Z' "/proc/$t/status"; then echo "$label: gone after $((($(date +%s%N) - t0) / 1000000)) ms"; return; fi
    sleep 0.01
  done
  echo "$label: STILL RUNNING 5 s after its parent was SIGKILLed ($(grep -E '^State:' "/proc/$t/status" | tr -s '\t' ' ')); killing it"
  kill -KILL "$t"
}
probe old setpriv --pdeathsig KILL -- tcpdump -i "$a" -U -w -
probe new setpriv "--reuid=$uid" "--regid=$gid" --init-groups --inh-caps=-all,+net_raw --ambient-caps=-all,+net_raw --no-new-privs --pdeathsig KILL -- tcpdump -i "$a" -U -w -
probe pidns setpriv --pdeathsig KILL -- unshare --pid --fork --kill-child=KILL -- unshare --fork --kill-child=KILL -- tcpdump -i "$a" -U -w -
