/*
 * The C floor for scripts/bench/bucketize.ts: what walking a classic pcap file
 * costs with nothing on top. It mmaps the file, steps from record to record by
 * the header's caplen and counts packets in and out of the guest the way the
 * pcap-parser loop does (IPv4 source == GUEST_IP, one VLAN tag skipped): no
 * decoding beyond that, no buckets, no rows.
 *
 *   pcap-floor FILE GUEST_IP
 *
 * Prints "<packets in> <packets out>"; exits 1 on a file it cannot walk.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static uint32_t le32(const unsigned char *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static unsigned be16(const unsigned char *p) { return (unsigned)p[0] << 8 | p[1]; }

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s FILE GUEST_IP\n", argv[0]);
    return 2;
  }
  struct in_addr guest;
  if (inet_pton(AF_INET, argv[2], &guest) != 1) {
    fprintf(stderr, "pcap-floor: bad GUEST_IP %s\n", argv[2]);
    return 2;
  }
  int fd = open(argv[1], O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) < 0) {
    perror("pcap-floor: open");
    return 1;
  }
  size_t size = (size_t)st.st_size;
  if (size < 24) {
    fprintf(stderr, "pcap-floor: %s is shorter than a pcap file header\n", argv[1]);
    return 1;
  }
  const unsigned char *m = mmap(NULL, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
  if (m == MAP_FAILED) {
    perror("pcap-floor: mmap");
    return 1;
  }
  if (le32(m) != 0xa1b2c3d4 && le32(m) != 0xa1b23c4d) {
    fprintf(stderr, "pcap-floor: not a little-endian classic pcap file\n");
    return 1;
  }
  unsigned long long in = 0, out = 0;
  size_t o = 24;
  while (o + 16 <= size) {
    uint32_t caplen = le32(m + o + 8);
    const unsigned char *d = m + o + 16;
    if (o + 16 + caplen > size) {
      fprintf(stderr, "pcap-floor: record at %zu runs past the end\n", o);
      return 1;
    }
    unsigned l3 = 14, et = caplen >= 14 ? be16(d + 12) : 0;
    if (et == 0x8100 && caplen >= 18) {
      et = be16(d + 16);
      l3 = 18;
    }
    if (et == 0x0800 && caplen >= l3 + 16 && memcmp(d + l3 + 12, &guest, 4) == 0) out++;
    else in++;
    o += 16 + caplen;
  }
  printf("%llu %llu\n", in, out);
  munmap((void *)m, size);
  close(fd);
  return 0;
}
