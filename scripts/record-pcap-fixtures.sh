#!/usr/bin/env bash
# Records the capture fixtures of `labtel bucketize` from REAL traffic with
# the real tools (tcpdump, dumpcap), for test/collectors/netflow/offline/tshark.test.ts, which
# checks labtel's rows against tshark's reading of the same files.
#
#   scripts/record-pcap-fixtures.sh [OUT]     (OUT defaults to test/fixtures/pcap)
#
# Run as root (network namespaces). Needs ip and tc (iproute2), clang and the
# kernel's uapi headers (linux-libc-dev) for the VLAN phases, python3,
# tcpdump, dumpcap, capinfos and tshark. Traffic only ever goes between two network namespaces
# this script creates and deletes on exit (labtel-fx-a and labtel-fx-b, joined
# by a veth pair fxa <-> fxb):
#
#   labtel-fx-a  "the host"   10.201.0.1   fd00:201::1   MAC 02:00:0a:c9:00:01
#   labtel-fx-b  "the guest"  10.201.0.10  fd00:201::10  MAC 02:00:0a:c9:00:0a
#
# Every capture runs in labtel-fx-b, on the guest side. The guest addresses
# are the same in every phase; only the link that carries them changes:
#
#   phase veth   addresses on fxa/fxb themselves; captured at once by
#                  tcpdump -i fxb -w veth-tcpdump.pcap                (pcap, us)
#                  tcpdump -i fxb --time-stamp-precision=nano -w veth-nanosec.pcap
#                  dumpcap -n -i fxb -w veth-nanosec.pcapng  (pcapng, if_tsresol 9)
#                  tcpdump -i any -y LINUX_SLL2 -w sll2.pcap      (linktype 276)
#   phase vlan   every frame on the veth carries an 802.1Q tag, id 100;
#                captured on fxb -> vlan.pcap
#   phase qinq   every frame carries an 802.1ad S-tag 300 around an 802.1Q
#                C-tag 30; captured on fxb -> qinq.pcap
#
# The tags: the kernel this was first run on has no CONFIG_VLAN_8021Q (no
# `ip link add link fxa name fxa.100 type vlan id 100`), so a tc BPF program
# (clang -target bpf, below) does what a VLAN subinterface would: on each
# veth's egress it pushes the tag(s) with bpf_skb_vlan_push, on its ingress
# it pops them. The capture on fxb taps the frames before ingress tc and after
# egress tc, so it sees every frame tagged, as a capture on the parent of a
# VLAN subinterface does. Both stacks keep their addresses on fxa/fxb.
#
# Each phase starts from fresh namespaces (so ARP and neighbour discovery
# happen inside the capture, and no TIME_WAIT is left from a previous phase),
# waits for the kernel's own IPv6 chatter at link-up (MLD) to die down,
# starts the captures, and runs the same mix (the python driver below): one
# step every 100 ms, about 1.5 s in all, every socket bound to a fixed port.
set -euo pipefail

OUT=${1:-test/fixtures/pcap}
NS_A=labtel-fx-a
NS_B=labtel-fx-b
MAC_A=02:00:0a:c9:00:01
MAC_B=02:00:0a:c9:00:0a

die() { echo "record-pcap-fixtures: $*" >&2; exit 1; }
[[ $(id -u) == 0 ]] || die "run as root (network namespaces)"
for t in ip tc clang python3 tcpdump dumpcap capinfos tshark; do command -v "$t" >/dev/null || die "$t is needed"; done

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

# The traffic: a python driver that enters each namespace with setns(2)
# before creating a socket (a socket stays in the namespace it was made in),
# so the servers and the clients of both sides run in one process on one
# schedule.
cat >"$tmp/driver.py" <<'PY'
import ctypes, os, socket, struct, sys, threading, time

libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNET = 0x40000000
FDS = {"a": os.open("/run/netns/labtel-fx-a", os.O_RDONLY), "b": os.open("/run/netns/labtel-fx-b", os.O_RDONLY)}
A4, B4, A6, B6 = "10.201.0.1", "10.201.0.10", "fd00:201::1", "fd00:201::10"
IPV6_HOPOPTS, IPV6_DSTOPTS = 54, 59
PADN4 = bytes([0, 0, 1, 4, 0, 0, 0, 0])  # an options header of one PadN option (the kernel fills in next header)
IP_MTU_DISCOVER, IP_PMTUDISC_DONT = 10, 0  # not in the socket module

def enter(ns):  # this thread's network namespace
    if libc.setns(FDS[ns], CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), f"setns {ns}")

def family(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET

ready = threading.Semaphore(0)
SERVERS = 0

def serve_tcp(ns, addr, port, reply):
    enter(ns)
    s = socket.socket(family(addr), socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    s.listen(8)
    ready.release()
    while True:
        c, _ = s.accept()
        try:  # read the request to its end, answer, close: a clean FIN both ways
            while c.recv(65536):
                pass
            c.sendall(b"S" * reply)
        except OSError:
            pass  # the client reset the connection
        c.close()

def serve_udp(ns, addr, port):
    enter(ns)
    s = socket.socket(family(addr), socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    ready.release()
    while True:
        data, peer = s.recvfrom(65536)
        s.sendto(data, peer)  # echo

def server(fn, *args):
    global SERVERS
    SERVERS += 1
    threading.Thread(target=fn, args=args, daemon=True).start()

def tcp(ns, src, sport, dst, dport, send, abort=False):
    enter(ns)
    s = socket.socket(family(dst), socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((src, sport))
    try:
        s.connect((dst, dport))
    except ConnectionRefusedError:
        s.close()  # SYN answered by RST
        return
    s.sendall(b"C" * send)
    if abort:  # close with SO_LINGER 0: the client sends RST
        time.sleep(0.02)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
        return
    s.shutdown(socket.SHUT_WR)
    s.settimeout(2)
    while s.recv(65536):
        pass
    s.close()

def udp(ns, src, sport, dst, dport, sizes, ext=()):
    """ext[i]: the IPv6 extension headers of datagram i ("hop", "dst")."""
    enter(ns)
    s = socket.socket(family(dst), socket.SOCK_DGRAM)
    s.bind((src, sport))
    s.settimeout(2)
    if family(dst) == socket.AF_INET:
        s.setsockopt(socket.IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_DONT)  # fragment, no DF
    for i, n in enumerate(sizes):
        hdrs = ext[i] if i < len(ext) else ()
        cmsg = [(socket.IPPROTO_IPV6, {"hop": IPV6_HOPOPTS, "dst": IPV6_DSTOPTS}[h], PADN4) for h in hdrs]
        s.sendmsg([b"U" * n], cmsg, 0, (dst, dport))
        s.recvfrom(65536)  # the echo (without extension headers)
    s.close()

def csum(b):
    if len(b) % 2:
        b += b"\0"
    x = sum(struct.unpack(f"!{len(b) // 2}H", b))
    while x >> 16:
        x = (x & 0xFFFF) + (x >> 16)
    return ~x & 0xFFFF

def ping(ns, dst, ident, seqs):
    enter(ns)
    v6 = family(dst) == socket.AF_INET6
    s = socket.socket(family(dst), socket.SOCK_RAW, socket.IPPROTO_ICMPV6 if v6 else socket.IPPROTO_ICMP)
    s.settimeout(2)
    payload = b"labtel-fixture".ljust(32, b".")
    for seq in seqs:
        if v6:  # the kernel fills in the ICMPv6 checksum
            pkt = struct.pack("!BBHHH", 128, 0, 0, ident, seq) + payload
        else:
            c = csum(struct.pack("!BBHHH", 8, 0, 0, ident, seq) + payload)
            pkt = struct.pack("!BBHHH", 8, 0, c, ident, seq) + payload
        s.sendto(pkt, (dst, 0))
        while True:  # until our echo reply (raw sockets see other ICMP too)
            data = s.recv(65536)
            icmp = data if v6 else data[(data[0] & 15) * 4:]
            t, _, _, i, q = struct.unpack("!BBHHH", icmp[:8])
            if t == (129 if v6 else 0) and i == ident and q == seq:
                break
        time.sleep(0.02)
    s.close()

server(serve_tcp, "b", B4, 8080, 2000)
server(serve_tcp, "b", B6, 8080, 2000)
server(serve_udp, "b", B4, 7777)
server(serve_udp, "b", B6, 7777)
server(serve_tcp, "a", A4, 9090, 500)
server(serve_udp, "a", A4, 7778)
for _ in range(SERVERS):
    if not ready.acquire(timeout=5):
        sys.exit("driver: a server did not start")

STEPS = [
    lambda: tcp("a", A4, 40001, B4, 8080, 1000),                # host -> guest, 1000 B up, 2000 B back, FIN both ways (ARP first)
    lambda: ping("a", B4, 0x1a01, [1, 2]),                      # ICMP echo host -> guest x2
    lambda: udp("a", A4, 41001, B4, 7777, [100, 200, 300]),     # UDP host -> guest x3, echoed
    lambda: tcp("a", A4, 40002, B4, 9, 0),                      # refused: SYN, RST-ACK
    lambda: tcp("b", B4, 40003, A4, 9090, 300),                 # guest -> host, 300 B up, 500 B back
    lambda: udp("b", B4, 41002, A4, 7778, [64, 128]),           # UDP guest -> host x2, echoed
    lambda: ping("b", A4, 0x1b01, [1, 2]),                      # ICMP echo guest -> host x2
    lambda: tcp("a", A6, 40004, B6, 8080, 1000),                # IPv6 TCP host -> guest (neighbour discovery first)
    lambda: udp("a", A6, 41003, B6, 7777, [80, 160], ext=[["dst"], ["hop", "dst"]]),  # IPv6 extension headers: dst opts; hop-by-hop + dst opts
    lambda: ping("a", B6, 0x1a06, [1, 2]),                      # ICMPv6 echo host -> guest x2
    lambda: ping("b", A6, 0x1b06, [1]),                         # ICMPv6 echo guest -> host x1
    lambda: tcp("a", A6, 40005, B6, 9, 0),                      # IPv6 refused: SYN, RST-ACK
    lambda: udp("a", A4, 41004, B4, 7777, [3000]),              # IPv4 fragments (3000 B datagram, both ways)
    lambda: udp("a", A6, 41005, B6, 7777, [3000]),              # IPv6 fragments
    lambda: tcp("b", B4, 40006, A4, 9090, 20000),               # guest -> host bulk (GSO super-frames)
    lambda: tcp("a", A4, 40007, B4, 8080, 100, abort=True),     # host -> guest, closed by RST
]
t0 = time.monotonic()
for i, step in enumerate(STEPS):
    time.sleep(max(0.0, t0 + 0.1 * i - time.monotonic()))
    step()
PY

# The tagging program: egress pushes the C-tag INNER (and then the S-tag
# OUTER around it), ingress pops what egress pushed. (The kernel has already
# moved the outer tag of a received frame out of the data; popping it moves
# the next one out, so two pops take both off.)
cat >"$tmp/vlan.c" <<'C'
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#ifndef OUTER
#define OUTER 0
#endif
static long (*skb_vlan_push)(struct __sk_buff *skb, __u16 proto, __u16 tci) = (void *)BPF_FUNC_skb_vlan_push;
static long (*skb_vlan_pop)(struct __sk_buff *skb) = (void *)BPF_FUNC_skb_vlan_pop;
__attribute__((section("tc_egress"), used)) int egress(struct __sk_buff *skb) {
  if (skb_vlan_push(skb, __builtin_bswap16(0x8100), INNER)) return TC_ACT_SHOT;
  if (OUTER && skb_vlan_push(skb, __builtin_bswap16(0x88a8), OUTER)) return TC_ACT_SHOT;
  return TC_ACT_OK;
}
__attribute__((section("tc_ingress"), used)) int ingress(struct __sk_buff *skb) {
  skb_vlan_pop(skb);
  if (OUTER) skb_vlan_pop(skb);
  return TC_ACT_OK;
}
char _license[] __attribute__((section("license"), used)) = "GPL";
C

# ns_up PHASE: fresh namespaces, the veth pair with the guest/host addresses,
# and for vlan/qinq the tagging program on both ends.
ns_up() {
  local phase=$1
  ip netns del "$NS_A" 2>/dev/null || true
  ip netns del "$NS_B" 2>/dev/null || true
  ip netns add "$NS_A"
  ip netns add "$NS_B"
  ip link add fxa netns "$NS_A" address "$MAC_A" type veth peer name fxb netns "$NS_B" address "$MAC_B"
  local tags
  case $phase in
    veth) tags= ;;
    vlan) tags="-DINNER=100" ;;
    qinq) tags="-DINNER=30 -DOUTER=300" ;;
    *) die "unknown phase $phase" ;;
  esac
  local ns dev
  for ns in "$NS_A" "$NS_B"; do
    dev=fx${ns##*-}
    ip -n "$ns" link set lo up
    # Nothing in the capture that the mix did not ask for: no router
    # solicitations, no DAD, and the kernel's unsolicited MLD reports at
    # link-up over within a few 100 ms rather than seconds.
    ip netns exec "$ns" sysctl -qw "net.ipv6.conf.$dev.router_solicitations=0" "net.ipv6.conf.$dev.accept_dad=0" \
      "net.ipv6.conf.$dev.mldv1_unsolicited_report_interval=100" "net.ipv6.conf.$dev.mldv2_unsolicited_report_interval=100"
    if [[ -n $tags ]]; then
      # shellcheck disable=SC2086
      clang -O2 -target bpf -I"/usr/include/$(uname -m)-linux-gnu" $tags -c "$tmp/vlan.c" -o "$tmp/vlan-$phase.o"
      ip netns exec "$ns" tc qdisc add dev "$dev" clsact
      ip netns exec "$ns" tc filter add dev "$dev" egress bpf da obj "$tmp/vlan-$phase.o" sec tc_egress
      ip netns exec "$ns" tc filter add dev "$dev" ingress bpf da obj "$tmp/vlan-$phase.o" sec tc_ingress
    fi
  done
  ip -n "$NS_A" addr add 10.201.0.1/24 dev fxa
  ip -n "$NS_A" addr add fd00:201::1/64 dev fxa nodad
  ip -n "$NS_B" addr add 10.201.0.10/24 dev fxb
  ip -n "$NS_B" addr add fd00:201::10/64 dev fxb nodad
  ip -n "$NS_A" link set fxa up
  ip -n "$NS_B" link set fxb up
  sleep 3  # the link-up MLD reports are long over by now
}

# capture NAME CMD...: starts a capture in the guest's namespace; its stderr
# goes to $tmp/NAME.err, which says when it is listening.
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

stop_captures() {
  sleep 1.2  # past libpcap's 1 s buffer timeout, so no capture holds back the last packets
  local p
  for p in "${pids[@]}"; do kill -INT "$p"; done
  for p in "${pids[@]}"; do wait "$p" || die "a capture failed: $(cat "$tmp"/*.err)"; done
  pids=()
  # A fixture is the whole conversation: no packet dropped by any capture.
  if grep -E '^[1-9][0-9]* packets? dropped by (kernel|interface)|dropped on interface .*: [0-9]+/[1-9]' "$tmp"/*.err >&2; then
    die "a capture dropped packets"
  fi
}

mkdir -p "$OUT"
# -Z root: Debian's tcpdump otherwise drops to the tcpdump user before it
# writes. --immediate-mode: every packet is written as it comes, none is lost
# in a half-full kernel buffer block when SIGINT stops the capture. -B 8192:
# 8 MiB of kernel buffer, so the bulk transfer's burst drops nothing.
TCPDUMP=(tcpdump -Z root -n --immediate-mode -B 8192)

# --- phase veth: four captures of the same traffic ---------------------------
ns_up veth
capture veth-tcpdump "${TCPDUMP[@]}" -i fxb -w "$tmp/veth-tcpdump.pcap"
capture veth-nanosec "${TCPDUMP[@]}" -i fxb --time-stamp-precision=nano -w "$tmp/veth-nanosec.pcap"
capture veth-pcapng dumpcap -q -n -i fxb -w "$tmp/veth-nanosec.pcapng"
capture sll2 "${TCPDUMP[@]}" -i any -y LINUX_SLL2 -w "$tmp/sll2.pcap"
wait_listening veth-tcpdump veth-nanosec veth-pcapng sll2
python3 "$tmp/driver.py"
stop_captures

# --- phase vlan: 802.1Q id 100 on every frame -------------------------------
ns_up vlan
capture vlan "${TCPDUMP[@]}" -i fxb -w "$tmp/vlan.pcap"
wait_listening vlan
python3 "$tmp/driver.py"
stop_captures

# --- phase qinq: 802.1ad 300 around 802.1Q 30 on every frame ---------------
ns_up qinq
capture qinq "${TCPDUMP[@]}" -i fxb -w "$tmp/qinq.pcap"
wait_listening qinq
python3 "$tmp/driver.py"
stop_captures

# The formats the fixtures promise, as capinfos reads them.
check() {
  local file=$1 want=$2
  capinfos -M "$tmp/$file" | grep -q -E "$want" || { capinfos -M "$tmp/$file" >&2; die "$file: expected /$want/"; }
}
check veth-tcpdump.pcap '^File type: +pcap$'
check veth-tcpdump.pcap '^File timestamp precision: +microseconds \(6\)$'
check veth-nanosec.pcap '^File type: +nsecpcap$'
check veth-nanosec.pcapng '^File type: +pcapng$'
check veth-nanosec.pcapng '^ +Time precision = nanoseconds \(9\)$'  # the IDB's if_tsresol
check sll2.pcap '^File encapsulation: +linux-sll2$'
for f in vlan.pcap qinq.pcap; do check $f '^File encapsulation: +ether$'; done
# ... and the tags, as tshark reads them: on every frame, nothing else.
untagged() {
  local out
  out=$(tshark -n -r "$tmp/$1" -Y "$2" 2>/dev/null) || die "tshark cannot read $1 with -Y '$2'"
  printf '%s' "$out" | awk 'END { print NR }'
}
[[ $(untagged vlan.pcap '!(vlan.id == 100) || ieee8021ad') == 0 ]] || die "vlan.pcap: a frame without its 802.1Q tag 100"
[[ $(untagged qinq.pcap '!(ieee8021ad.id == 300 && vlan.id == 30)') == 0 ]] || die "qinq.pcap: a frame without its 802.1ad 300 / 802.1Q 30 tags"
for f in veth-tcpdump.pcap veth-nanosec.pcap veth-nanosec.pcapng sll2.pcap vlan.pcap qinq.pcap; do
  size=$(stat -c %s "$tmp/$f")
  ((size < 200000)) || die "$f is $size bytes, more than the 200 KB a fixture may be"
  install -m 644 "$tmp/$f" "$OUT/$f"
  echo "record-pcap-fixtures: $OUT/$f: $(capinfos -M -c "$tmp/$f" | awk -F': *' '/Number of packets/ {print $2}') packets, $size bytes"
done
echo "record-pcap-fixtures: done; update $OUT/README.md if the mix changed"
