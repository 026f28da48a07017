#!/usr/bin/env bash
# Records the guest channel's seed traffic (test/fixtures/guest/) from the
# real programs, for the guest line fuzz target (test/fuzz/guest-lines.ts):
#
#   qga-answers.jsonl        every byte a real qemu-guest-agent (`qemu-ga -m
#                            unix-listen`, on this host) sent back to a
#                            session like labtel's: guest-sync-delimited (its
#                            answer starts with the 0xFF delimiter), the polled
#                            commands, more commands with larger answers, and
#                            errors (a command that does not exist, a blocked
#                            one, a malformed request).
#   test-guest-lines.jsonl   what the test guest's agent (scripts/test-guest/init)
#                            wrote on its virtio-serial port while it ran under
#                            QEMU (TCG), booted from build-guest/ as
#                            scripts/build-test-guest.sh builds it.
#
#   scripts/record-guest-fixtures.sh [OUT]    (OUT defaults to test/fixtures/guest)
#
# Needs qemu-ga, qemu-system-x86_64 and python3; run as root (the agent reads
# the host's /proc, and the guest needs nothing else). The guest runs 8 s.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-test/fixtures/guest}
mkdir -p "$OUT"
WORK=$(mktemp -d)
QGA_PID= QEMU_PID=
cleanup() {
  [ -n "$QGA_PID" ] && kill "$QGA_PID" 2>/dev/null || true
  [ -n "$QEMU_PID" ] && kill "$QEMU_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# --- qemu-ga answers
mkdir "$WORK/state"
qemu-ga -m unix-listen -p "$WORK/qga.sock" -t "$WORK/state" -b guest-get-diskstats &
QGA_PID=$!
for _ in $(seq 100); do [ -S "$WORK/qga.sock" ] && break; sleep 0.05; done
python3 - "$WORK/qga.sock" "$OUT/qga-answers.jsonl" <<'PY'
import json, socket, sys
path, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX)
s.connect(path)
s.settimeout(5)
got = b''
def ask(raw: bytes):
    global got
    s.sendall(raw)
    buf = b''
    while not buf.endswith(b'\n'):
        buf += s.recv(1 << 20)
    got += buf
ask(b'\xff' + json.dumps({'execute': 'guest-sync-delimited', 'arguments': {'id': 12345}}).encode() + b'\n')
for cmd in ['guest-get-osinfo', 'guest-get-cpustats', 'guest-get-diskstats', 'guest-get-memory-blocks', 'guest-info',
            'guest-get-vcpus', 'guest-get-host-name', 'guest-get-timezone', 'guest-get-users', 'guest-network-get-interfaces',
            'guest-get-fsinfo', 'guest-get-memory-block-info', 'guest-get-load', 'guest-no-such-command']:
    ask(json.dumps({'execute': cmd}).encode() + b'\n')
ask(b'{"execute":"guest-info","arguments":[1]}\n')  # malformed requests: the agent's errors
ask(b'{"no-execute":1}\n')
ask(json.dumps({'execute': 'guest-sync', 'arguments': {'id': 7}}).encode() + b'\n')
open(out, 'wb').write(got)
n = got.count(b'\n')
print(f'{out}: {n} answers, {len(got)} bytes')
PY

# --- the test guest's own lines
qemu-system-x86_64 -machine pc,accel=tcg -m 256 -nodefaults -display none \
  -serial "file:$WORK/console.log" -kernel build-guest/vmlinuz -initrd build-guest/initramfs.gz \
  -append "console=ttyS0 quiet labtel.seconds=8" \
  -device virtio-serial -chardev "socket,id=tel,path=$WORK/tel.sock,server=on,wait=off" \
  -device virtserialport,chardev=tel,name=org.labtel.telemetry.0 &
QEMU_PID=$!
for _ in $(seq 100); do [ -S "$WORK/tel.sock" ] && break; sleep 0.05; done
python3 - "$WORK/tel.sock" "$OUT/test-guest-lines.jsonl" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.settimeout(60)
got = b''
try:
    while True:
        b = s.recv(65536)
        if not b:
            break
        got += b
except (socket.timeout, ConnectionResetError):
    pass
got = got[: got.rfind(b'\n') + 1]  # whole lines only
open(sys.argv[2], 'wb').write(got)
n = got.count(b'\n')
print(f'{sys.argv[2]}: {n} lines, {len(got)} bytes')
PY
wait "$QEMU_PID" || true
QEMU_PID=
