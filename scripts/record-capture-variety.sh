#!/usr/bin/env bash
# Records the "variety" capture fixtures: real traffic written by several
# tools in every link type and file format labtel meets, for
# test/collectors/netflow/offline/libpcap-count.test.ts (labtel's packet total must equal
# libpcap's own, `tcpdump --count -r FILE`) and the native-vs-TS
# differential test, which glob test/fixtures/pcap/.
#
#   scripts/record-capture-variety.sh [OUT]     (OUT defaults to test/fixtures/pcap)
#
# Run as root (network namespaces). Needs ip (iproute2), python3, tcpdump,
# dumpcap, editcap, mergecap, text2pcap, capinfos and tshark. Traffic only
# goes between two network namespaces this script creates and deletes on
# exit, joined by a veth pair, and over a tun device and loopback inside the
# second:
#
#   labtel-cv-a  "the host"   10.202.0.1   fd00:202::1  (veth cva)
#   labtel-cv-b  "the guest"  10.202.0.10  fd00:202::10 (veth cvb), lo,
#                             tun cvt 10.203.0.10/24 whose far end
#                             (10.203.0.1) is the python driver itself
#
# Every capture runs in labtel-cv-b: first the mix (veth, lo and tun at
# once, by tcpdump and dumpcap), then an IPv6 BIG TCP transfer over the veth
# (frames over 64 KiB), then the Wireshark tools make the other formats from
# those captures. What each file is, and how it was made, is in
# test/fixtures/pcap/README.md (section "Variety").
set -euo pipefail

OUT=${1:-test/fixtures/pcap}
NS_A=labtel-cv-a
NS_B=labtel-cv-b

die() { echo "record-capture-variety: $*" >&2; exit 1; }
[[ $(id -u) == 0 ]] || die "run as root (network namespaces)"
for t in ip python3 tcpdump dumpcap editcap mergecap text2pcap capinfos tshark; do command -v "$t" >/dev/null || die "$t is needed"; done

pids=()
tmp=$(mktemp -d)
cleanup() {
  local p
  for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  ip netns del "$NS_A" 2>/dev/null || true
  ip netns del "$NS_B" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

# --- the traffic ------------------------------------------------------------
# One python process enters each namespace with setns(2) before it makes a
# socket. It also holds the tun device: what it writes to the tun's fd the
# guest's kernel receives on cvt, and the kernel's answers come back to it.
cat >"$tmp/driver.py" <<'PY'
import ctypes, fcntl, os, socket, struct, sys, threading, time

libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNET = 0x40000000
FDS = {n: os.open(f"/run/netns/labtel-cv-{n}", os.O_RDONLY) for n in "ab"}
A4, B4, A6, B6, T_FAR, T_B = "10.202.0.1", "10.202.0.10", "fd00:202::1", "fd00:202::10", "10.203.0.1", "10.203.0.10"

def enter(ns):
    if libc.setns(FDS[ns], CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), f"setns {ns}")

def family(a):
    return socket.AF_INET6 if ":" in a else socket.AF_INET

def csum(b):
    if len(b) % 2:
        b += b"\0"
    x = sum(struct.unpack(f"!{len(b) // 2}H", b))
    while x >> 16:
        x = (x & 0xFFFF) + (x >> 16)
    return ~x & 0xFFFF

ready = threading.Semaphore(0)

def serve_tcp(ns, addr, port):
    enter(ns)
    s = socket.socket(family(addr), socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    s.listen(4)
    ready.release()
    while True:
        c, _ = s.accept()
        while c.recv(65536):
            pass
        c.sendall(b"S" * 300)
        c.close()

def serve_udp(ns, addr, port):
    enter(ns)
    s = socket.socket(family(addr), socket.SOCK_DGRAM)
    s.bind((addr, port))
    ready.release()
    while True:
        d, peer = s.recvfrom(65536)
        s.sendto(d, peer)

def tcp(ns, src, sport, dst, dport, n):
    enter(ns)
    s = socket.socket(family(dst), socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((src, sport))
    s.connect((dst, dport))
    s.sendall(b"C" * n)
    s.shutdown(socket.SHUT_WR)
    s.settimeout(2)
    while s.recv(65536):
        pass
    s.close()

def udp(ns, src, sport, dst, dport, sizes):
    enter(ns)
    s = socket.socket(family(dst), socket.SOCK_DGRAM)
    s.bind((src, sport))
    s.settimeout(2)
    for n in sizes:
        s.sendto(b"U" * n, (dst, dport))
        s.recvfrom(65536)
    s.close()

def ping(ns, dst, ident, seqs):
    enter(ns)
    v6 = family(dst) == socket.AF_INET6
    s = socket.socket(family(dst), socket.SOCK_RAW, socket.IPPROTO_ICMPV6 if v6 else socket.IPPROTO_ICMP)
    s.settimeout(2)
    payload = b"labtel-variety".ljust(32, b".")
    for seq in seqs:
        if v6:
            pkt = struct.pack("!BBHHH", 128, 0, 0, ident, seq) + payload
        else:
            pkt = struct.pack("!BBHHH", 8, 0, csum(struct.pack("!BBHHH", 8, 0, 0, ident, seq) + payload), ident, seq) + payload
        s.sendto(pkt, (dst, 0))
        while True:
            d = s.recv(65536)
            icmp = d if v6 else d[(d[0] & 15) * 4:]
            t, _, _, i, q = struct.unpack("!BBHHH", icmp[:8])
            if t == (129 if v6 else 0) and i == ident and q == seq:
                break
    s.close()

# The tun: IFF_TUN | IFF_NO_PI, so each read/write is one bare IP packet.
enter("b")
tun = os.open("/dev/net/tun", os.O_RDWR)
fcntl.ioctl(tun, 0x400454CA, struct.pack("16sH", b"cvt", 0x0001 | 0x1000))
os.system(f"ip addr add {T_B}/24 dev cvt && ip link set cvt up")

def ip4(src, dst, proto, payload, ident):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, 0, 64, proto, 0, socket.inet_aton(src), socket.inet_aton(dst))
    return h[:10] + struct.pack("!H", csum(h)) + h[12:] + payload

def tun_exchange(pkt, want_proto):
    """Writes one packet into the guest through cvt; returns the kernel's answer."""
    os.write(tun, pkt)
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        d = os.read(tun, 65536)
        if d[0] >> 4 == 4 and d[9] == want_proto:
            return d
    sys.exit("driver: no answer on the tun")

for fn, args in [(serve_tcp, ("b", B4, 8080)), (serve_tcp, ("b", "127.0.0.1", 8081)), (serve_udp, ("b", B4, 7777)),
                 (serve_udp, ("b", T_B, 7777)), (serve_udp, ("a", A4, 7778)), (serve_tcp, ("a", A6, 9090))]:
    threading.Thread(target=fn, args=args, daemon=True).start()
for _ in range(6):
    if not ready.acquire(timeout=5):
        sys.exit("driver: a server did not start")

while not os.path.exists(os.environ["GO"]):  # the captures on the tun start after it exists
    time.sleep(0.05)
STEPS = [
    lambda: tcp("a", A4, 40001, B4, 8080, 1000),                 # veth: ARP, then TCP host -> guest
    lambda: ping("a", B4, 0x2a01, [1, 2]),                       # veth: ICMP echo x2
    lambda: udp("b", B4, 41001, A4, 7778, [64, 700]),            # veth: UDP guest -> host, echoed
    lambda: tcp("b", B6, 40002, A6, 9090, 20000),                # veth: IPv6 TCP guest -> host, GSO super-frames
    lambda: tcp("b", "127.0.0.1", 40003, "127.0.0.1", 8081, 3000),  # lo: TCP inside the guest
    lambda: tun_exchange(ip4(T_FAR, T_B, 1, struct.pack("!BBHHH", 8, 0, csum(struct.pack("!BBHHH", 8, 0, 0, 0x2b01, 1) + b"tun-echo"), 0x2b01, 1) + b"tun-echo", 1), 1),  # tun: echo, reply
    lambda: tun_exchange(ip4(T_FAR, T_B, 17, struct.pack("!HHHH", 41002, 7777, 8 + 40, 0) + b"V" * 40, 2), 17),  # tun: UDP, echoed
    lambda: tun_exchange(ip4(T_FAR, T_B, 17, struct.pack("!HHHH", 41003, 9, 8 + 10, 0) + b"W" * 10, 3), 1),  # tun: UDP to a closed port, ICMP unreachable
]
t0 = time.monotonic()
for i, step in enumerate(STEPS):
    time.sleep(max(0.0, t0 + 0.1 * i - time.monotonic()))
    step()
# Holding the tun open until the captures stopped: when its fd closes, cvt
# goes away and the captures on it end on their own.
open(os.environ["GO"] + ".done", "w").close()
while not os.path.exists(os.environ["GO"] + ".stop"):
    time.sleep(0.05)
PY

ip netns del "$NS_A" 2>/dev/null || true
ip netns del "$NS_B" 2>/dev/null || true
ip netns add "$NS_A"
ip netns add "$NS_B"
ip link add cva netns "$NS_A" address 02:00:0a:ca:00:01 type veth peer name cvb netns "$NS_B" address 02:00:0a:ca:00:0a
for ns in "$NS_A" "$NS_B"; do
  dev=cv${ns##*-}
  ip -n "$ns" link set lo up
  ip netns exec "$ns" sysctl -qw "net.ipv6.conf.$dev.router_solicitations=0" "net.ipv6.conf.$dev.accept_dad=0" \
    "net.ipv6.conf.$dev.mldv1_unsolicited_report_interval=100" "net.ipv6.conf.$dev.mldv2_unsolicited_report_interval=100" \
    "net.ipv6.conf.all.disable_ipv6=0"
done
ip -n "$NS_A" addr add 10.202.0.1/24 dev cva
ip -n "$NS_A" addr add fd00:202::1/64 dev cva nodad
ip -n "$NS_B" addr add 10.202.0.10/24 dev cvb
ip -n "$NS_B" addr add fd00:202::10/64 dev cvb nodad
ip -n "$NS_A" link set cva up
ip -n "$NS_B" link set cvb up
# The tun does not exist before the driver opens it: dumpcap and tcpdump on
# cvt start after it does (below). Its IPv6 stays off, so nothing but the
# driver's packets crosses it.
ip netns exec "$NS_B" sysctl -qw net.ipv6.conf.default.disable_ipv6=1
sleep 3  # the link-up MLD reports are over

capture() {
  local name=$1
  shift
  ip netns exec "$NS_B" "$@" 2>"$tmp/$name.err" &
  pids+=("$!")
}
wait_listening() {
  local name i
  for name in "$@"; do
    for i in $(seq 1 100); do
      grep -q -E 'listening on|Capturing on' "$tmp/$name.err" 2>/dev/null && continue 2
      sleep 0.05
    done
    cat "$tmp/$name.err" >&2
    die "$name did not start capturing"
  done
  sleep 0.3
}

TCPDUMP=(tcpdump -Z root -n --immediate-mode -B 8192)
# The driver makes the tun first and waits for the captures on it: it runs
# its steps only once the file $tmp/go exists.
GO=$tmp/go python3 "$tmp/driver.py" &
driver=$!
for i in $(seq 1 100); do ip -n "$NS_B" link show cvt >/dev/null 2>&1 && break; sleep 0.05; done
ip -n "$NS_B" link show cvt >/dev/null 2>&1 || die "the driver made no tun"

capture veth "${TCPDUMP[@]}" -s 0 -i cvb -w "$tmp/veth.pcap"
capture lo "${TCPDUMP[@]}" -i lo -w "$tmp/lo.pcap"
capture sll "${TCPDUMP[@]}" -i any -y LINUX_SLL -w "$tmp/any-sll.pcap"
capture tun "${TCPDUMP[@]}" -i cvt --time-stamp-precision=nano -w "$tmp/tun-raw.pcap"
capture ng dumpcap -q -n -i cvb -i lo -w "$tmp/dumpcap-2if.pcapng"
capture ng2 dumpcap -q -n -i cvb -i cvt -w "$tmp/dumpcap-2lt.pcapng"
capture dP dumpcap -q -n -P -i lo -w "$tmp/dumpcap-P.pcap"
wait_listening veth lo sll tun ng ng2 dP
touch "$tmp/go"
for i in $(seq 1 200); do [[ -e $tmp/go.done ]] && break; kill -0 "$driver" 2>/dev/null || die "the traffic driver failed"; sleep 0.05; done
[[ -e $tmp/go.done ]] || die "the traffic driver did not finish"
sleep 1.2  # past libpcap's 1 s buffer timeout, so no capture holds back the last packets
for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null || die "a capture ended early: $(tail -n 3 "$tmp"/*.err)"; done
for p in "${pids[@]}"; do wait "$p" || die "a capture failed: $(cat "$tmp"/*.err)"; done
pids=()
touch "$tmp/go.stop"
wait "$driver" || die "the traffic driver failed"
if grep -E '^[1-9][0-9]* packets? dropped by (kernel|interface)|dropped on interface .*: [0-9]+/[1-9]' "$tmp"/*.err >&2; then
  die "a capture dropped packets"
fi

# --- phase bigtcp: frames over 64 KiB ----------------------------------------
# IPv6 BIG TCP: with gso_max_size above 64 KiB on both veth ends, the
# stack hands the veth TCP super-frames over 65535 bytes (their IPv6 payload
# length 0, as BIG TCP writes it). Captured whole (tcpdump -s 0) on cvb.
cat >"$tmp/bigtcp.py" <<'PY'
import ctypes, os, socket, threading
libc = ctypes.CDLL(None, use_errno=True)
def enter(ns):
    if libc.setns(os.open(f"/run/netns/{ns}", os.O_RDONLY), 0x40000000) != 0:
        raise OSError(ctypes.get_errno(), "setns")
ready = threading.Event()
def serve():
    enter("labtel-cv-b")
    s = socket.socket(socket.AF_INET6)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("fd00:202::10", 5001))
    s.listen(1)
    ready.set()
    c, _ = s.accept()
    while c.recv(1 << 20):
        pass
    c.close()
t = threading.Thread(target=serve)
t.start()
ready.wait(5)
enter("labtel-cv-a")
c = socket.socket(socket.AF_INET6)
c.bind(("fd00:202::1", 40010))
c.connect(("fd00:202::10", 5001))
c.sendall(b"B" * 400000)
c.shutdown(socket.SHUT_WR)
c.recv(1)
c.close()
t.join()
PY
ip -n "$NS_A" link set cva gso_max_size 180000 gro_max_size 180000
ip -n "$NS_B" link set cvb gso_max_size 180000 gro_max_size 180000
capture bigtcp "${TCPDUMP[@]}" -s 0 -i cvb -w "$tmp/bigtcp.pcap"
wait_listening bigtcp
python3 "$tmp/bigtcp.py"
sleep 1.2
kill -INT "${pids[0]}"
wait "${pids[0]}" || die "the bigtcp capture failed: $(cat "$tmp/bigtcp.err")"
pids=()

# --- derived files: the other tools, on the real captures -------------------
cd "$tmp"
editcap -F nsecpcap any-sll.pcap editcap-nsec-sll.pcap             # pcap, ns magic, SLL v1
editcap -F pcap -s 96 veth.pcap editcap-s96.pcap                   # every record cut to 96 bytes (editcap writes pcapng unless -F)
editcap -F pcapng -s 96 veth.pcap editcap-s96.pcapng               # the same, pcapng (IDB snaplen 96)
editcap -F pcap dumpcap-2if.pcapng editcap-from-pcapng.pcap        # pcapng -> pcap (both interfaces Ethernet)
mergecap -F pcapng -w mergecap.pcapng veth.pcap lo.pcap            # two files, one pcapng section, two interfaces
mergecap -F pcap -w mergecap.pcap veth.pcap lo.pcap                # the same into classic pcap
editcap -F pcapng lo.pcap lo.pcapng
# Raw IPv4 (228) and raw IPv6 (229): the tun's packets (all IPv4) relabelled,
# and the veth's IPv6 packets with their 14-byte Ethernet header chopped off.
editcap -F pcap -T rawip4 tun-raw.pcap rawip4.pcap
tshark -n -r veth.pcap -Y ipv6 -F pcap -w veth-v6.pcap 2>/dev/null
editcap -F pcap -C 14 -T rawip6 veth-v6.pcap rawip6.pcap
cat dumpcap-2if.pcapng lo.pcapng >sections.pcapng                  # two sections, as concatenated captures are
# BSD loopback (0) and OpenBSD loopback (108) cannot be captured on Linux:
# text2pcap writes them from the tun capture's raw IP packets, each behind
# a 4-byte address family (host order for 0, network order for 108).
cat >text2pcap-in.py <<'PY'
import struct, sys
b = open("tun-raw.pcap", "rb").read()
assert struct.unpack("<I", b[:4])[0] == 0xA1B23C4D, "tun-raw.pcap: expected a little-endian ns pcap"
af = struct.pack("<I" if sys.argv[1] == "host" else ">I", 2)  # AF_INET
off = 24
while off < len(b):
    sec, nsec, cap, wire = struct.unpack("<IIII", b[off:off + 16])
    data = af + b[off + 16:off + 16 + cap]
    off += 16 + cap
    print(f"{sec}.{nsec:09d}")  # the time, as text2pcap -t '%s.%f' reads it
    for i in range(0, len(data), 16):
        print(f"{i:06x} " + " ".join(f"{x:02x}" for x in data[i:i + 16]))
PY
python3 text2pcap-in.py host | text2pcap -q -F nsecpcap -t '%s.%f' -l 0 - null.pcap 2>/dev/null
python3 text2pcap-in.py net | text2pcap -q -F pcapng -t '%s.%f' -l 108 - loop.pcapng 2>/dev/null
# Big-endian: no tool installed here writes it, so the bytes of a real
# capture (any-sll.pcap) are swapped into a big-endian ns pcap by this code.
python3 - any-sll.pcap be-nsec-sll.pcap <<'PY'
import struct, sys
b = open(sys.argv[1], "rb").read()
magic, vmaj, vmin, zone, sig, snap, lt = struct.unpack("<IHHiIII", b[:24])
assert magic == 0xA1B2C3D4
out = [struct.pack(">IHHiIII", 0xA1B23C4D, vmaj, vmin, zone, sig, snap, lt)]
off = 24
while off < len(b):
    sec, usec, cap, wire = struct.unpack("<IIII", b[off:off + 16])
    out.append(struct.pack(">IIII", sec, usec * 1000, cap, wire) + b[off + 16:off + 16 + cap])
    off += 16 + cap
open(sys.argv[2], "wb").write(b"".join(out))
PY
# Records over the header's snaplen: veth.pcap was taken with -s 0 (snaplen
# 262144), and holds TCP GSO super-frames of several KB. Its header's snaplen
# field is rewritten to 1514 with dd, the record headers and data left as
# they are: the header of a writer that assumed an Ethernet MTU, over the
# super-frames the kernel handed it. libpcap reads each such record's first
# 1514 bytes and skips the rest.
cp veth.pcap over-snaplen-gso.pcap
printf '\xea\x05\x00\x00' | dd of=over-snaplen-gso.pcap bs=1 seek=16 conv=notrunc status=none
# The BIG TCP capture: its handshake and close, and its first frame over
# 65535 bytes (tshark selects them; one such frame keeps the file under
# 200 KB), then the header's snaplen rewritten to 65535 with dd, the value
# most writers put there: one record over it, as a 64 KiB snaplen over GRO
# frames gives.
first_big=$(tshark -n -r bigtcp.pcap -Y 'frame.cap_len > 65535' -T fields -e frame.number 2>/dev/null | head -n 1)
[[ -n $first_big ]] || die "bigtcp.pcap: no frame over 65535 bytes (is BIG TCP, gso_max_size > 64 KiB, supported here?)"
tshark -n -r bigtcp.pcap -F pcap -w bigtcp-65535.pcap -Y "tcp.port == 5001 && (tcp.flags.syn == 1 || tcp.flags.fin == 1 || frame.number == $first_big)" 2>/dev/null
printf '\xff\xff\x00\x00' | dd of=bigtcp-65535.pcap bs=1 seek=16 conv=notrunc status=none
cd - >/dev/null

# --- checks -------------------------------------------------------------------
check() {
  local file=$1 want=$2
  capinfos -M "$tmp/$file" | grep -q -E "$want" || { capinfos -M "$tmp/$file" >&2; die "$file: expected /$want/"; }
}
check any-sll.pcap '^File encapsulation: +linux-sll$'
check tun-raw.pcap '^File encapsulation: +rawip$'
check tun-raw.pcap '^File type: +nsecpcap$'
check null.pcap '^File encapsulation: +null$'
check loop.pcapng '^File encapsulation: +loop$'
check dumpcap-P.pcap '^File type: +pcap$'
check editcap-s96.pcap '^File type: +pcap$'
check editcap-s96.pcapng '^File type: +pcapng$'
check over-snaplen-gso.pcap '^File type: +pcap$'
check bigtcp-65535.pcap '^File type: +pcap$'
[[ $(od -An -tu4 -j16 -N4 "$tmp/bigtcp-65535.pcap" | tr -d ' ') == 65535 ]] || die "bigtcp-65535.pcap: the snaplen is not 65535"
[[ $(tshark -n -r "$tmp/bigtcp-65535.pcap" -Y 'frame.cap_len > 65535' 2>/dev/null | awk 'END { print NR }') == 1 ]] || die "bigtcp-65535.pcap: not one record over 65535 bytes"
check dumpcap-2if.pcapng '^Number of interfaces in file: +2$'
check dumpcap-2lt.pcapng '^File encapsulation: +per-packet$'
check editcap-nsec-sll.pcap '^File type: +nsecpcap$'
check be-nsec-sll.pcap '^File type: +nsecpcap$'
check rawip4.pcap '^File encapsulation: +rawip4$'
check rawip6.pcap '^File encapsulation: +rawip6$'
[[ $(tshark -n -r "$tmp/rawip6.pcap" -Y '!ipv6' 2>/dev/null | awk 'END { print NR }') == 0 ]] || die "rawip6.pcap: a packet that is not IPv6"
# editcap -s cuts the records and leaves the header's snaplen as it was.
[[ $(tshark -n -r "$tmp/editcap-s96.pcap" -Y 'frame.cap_len > 96' 2>/dev/null | awk 'END { print NR }') == 0 ]] || die "editcap-s96.pcap: a record longer than 96 bytes"
[[ $(tshark -n -r "$tmp/editcap-s96.pcap" -Y 'frame.cap_len < frame.len' 2>/dev/null | awk 'END { print NR }') -gt 0 ]] || die "editcap-s96.pcap: no record cut"
[[ $(od -An -tu4 -j16 -N4 "$tmp/over-snaplen-gso.pcap" | tr -d ' ') == 1514 ]] || die "over-snaplen-gso.pcap: the snaplen is not 1514"
over=$(tshark -n -r "$tmp/over-snaplen-gso.pcap" -Y 'frame.cap_len > 1514' 2>/dev/null | awk 'END { print NR }')
((over > 0)) || die "over-snaplen-gso.pcap: no record longer than 1514 bytes (no GSO super-frame captured)"
# The loopback files hold the tun capture's packets, to the ns.
[[ $(tshark -r "$tmp/null.pcap" -T fields -e frame.time_epoch | md5sum) == $(tshark -r "$tmp/tun-raw.pcap" -T fields -e frame.time_epoch | md5sum) ]] ||
  die "null.pcap: timestamps differ from tun-raw.pcap"
mkdir -p "$OUT"
for f in any-sll.pcap tun-raw.pcap dumpcap-P.pcap dumpcap-2if.pcapng dumpcap-2lt.pcapng editcap-nsec-sll.pcap editcap-s96.pcap \
  editcap-s96.pcapng editcap-from-pcapng.pcap mergecap.pcapng mergecap.pcap sections.pcapng null.pcap loop.pcapng be-nsec-sll.pcap rawip4.pcap rawip6.pcap \
  over-snaplen-gso.pcap bigtcp-65535.pcap; do
  size=$(stat -c %s "$tmp/$f")
  ((size < 200000)) || die "$f is $size bytes, more than the 200 KB a fixture may be"
  install -m 644 "$tmp/$f" "$OUT/variety-$f"
  echo "record-capture-variety: $OUT/variety-$f: $(capinfos -M -c "$tmp/$f" | awk -F': *' '/Number of packets/ {print $2}') packets, $size bytes"
done
echo "record-capture-variety: $over records over the snaplen in variety-over-snaplen-gso.pcap; update $OUT/README.md"
