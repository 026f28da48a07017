// The measurement paths of a qmp poll row, written out so the collector's
// worker counts its value rows without loading zod and every row schema
// (rows/measurements.ts derives them from src/collectors/qmp/rows.ts; a test
// fails when the two differ, so the schema stays the one source).
import type { MeasurementPath } from '../../rows/measured-value.js';
import { KVM_RATE_COUNTERS } from './kvm-rates.js';

const BLOCK = [
  'rd_bytes', 'wr_bytes', 'rd_operations', 'wr_operations', 'flush_operations', 'rd_total_time_ns', 'wr_total_time_ns',
  'flush_total_time_ns', 'failed_rd_operations', 'failed_wr_operations', 'failed_flush_operations', 'idle_time_ns',
  'rd_latency_histogram', 'wr_latency_histogram', 'flush_latency_histogram',
];

export const QMP_POLL_MEASUREMENTS: readonly MeasurementPath[] = [
  ['status'],
  ['running'],
  ...BLOCK.map((f) => ['block', '*', f]),
  ['kvm_vm', '*'],
  ['kvm_vcpu', '*', '*'],
  ...KVM_RATE_COUNTERS.map((k) => ['kvm_vcpu_rates', '*', `${k}_per_s`]),
  ['balloon_actual_bytes'],
  ['balloon_guest'],
  ['migration'],
];
