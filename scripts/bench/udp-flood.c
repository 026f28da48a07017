// Sends small UDP datagrams at a fixed rate for a fixed time, in batches of
// sendmmsg(2), and prints how many it sent. Used by `npm run bench:capture`
// from inside a test network namespace (10.x addresses only).
// usage: udp-flood DST_IP DST_PORT PPS SECONDS [PAYLOAD_BYTES]
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define BATCH 64

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char** argv) {
  if (argc < 5) {
    fprintf(stderr, "usage: %s DST_IP DST_PORT PPS SECONDS [PAYLOAD_BYTES]\n", argv[0]);
    return 2;
  }
  struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(argv[2]))};
  if (inet_pton(AF_INET, argv[1], &dst.sin_addr) != 1 || (ntohl(dst.sin_addr.s_addr) >> 24) != 10) {
    fprintf(stderr, "udp-flood: DST_IP must be a 10.x address inside a test namespace\n");
    return 2;
  }
  double pps = atof(argv[3]), secs = atof(argv[4]);
  size_t len = argc > 5 ? (size_t)atoi(argv[5]) : 18;  // 18 B payload: a 60-byte frame
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  if (s < 0 || connect(s, (struct sockaddr*)&dst, sizeof dst) < 0) {
    perror("udp-flood: socket");
    return 1;
  }
  static char payload[1500];
  struct iovec iov[BATCH];
  struct mmsghdr msgs[BATCH];
  memset(msgs, 0, sizeof msgs);
  for (int i = 0; i < BATCH; i++) {
    iov[i].iov_base = payload;
    iov[i].iov_len = len;
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  double t0 = now_s(), end = t0 + secs;
  unsigned long long sent = 0, failed = 0;
  for (;;) {
    double t = now_s();
    if (t >= end) break;
    double due = (t - t0) * pps - (double)sent;  // packets behind schedule
    if (due < 1) {
      struct timespec ns = {0, 50000};
      nanosleep(&ns, NULL);
      continue;
    }
    int n = due > BATCH ? BATCH : (int)due;
    int r = sendmmsg(s, msgs, (unsigned)n, 0);
    if (r > 0) sent += (unsigned)r;
    else failed++;
  }
  double el = now_s() - t0;
  printf("{\"sent\":%llu,\"seconds\":%.3f,\"pps\":%.0f,\"send_errors\":%llu}\n", sent, el, sent / el, failed);
  return 0;
}
