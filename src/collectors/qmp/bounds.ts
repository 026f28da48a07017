// What one qmp poll may write, whatever QEMU answers: the README states
// these, and a row marks in `cut` what was left out to stay within them.

export const QMP_BOUNDS = {
  /** Block devices per poll (query-blockstats), the first ones QEMU lists. */
  devices: 256,
  /** Statistics per query-stats target (the vm, and each vCPU). */
  statsPerTarget: 1024,
  /** vCPUs per poll (query-cpus-fast, and query-stats for the vcpu target). */
  vcpus: 1024,
  /** Buckets of one histogram statistic (KVM's have 32). */
  histogramBuckets: 256,
  /** Characters of a name QEMU chooses (device, statistic, QOM path). */
  nameChars: 256,
  /** null_reasons inside block devices per row (the reasons for whole fields are always kept). */
  nestedReasons: 64,
  /** Bytes of one qmp row, its line end included. */
  rowBytes: 1 << 20,
} as const;
