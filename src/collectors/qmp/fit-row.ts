// The last bound on a qmp row: its bytes. The per-answer bounds (bounds.ts)
// still allow more than a row should hold (1024 vCPUs of 1024 statistics of
// 256 buckets), so when a row's fields and null_reasons together would pass
// rowBytes, entries are left out from the end of the largest containers —
// kvm_vcpu first, then kvm_vcpu_rates, kvm_vm, block and vcpus — until it fits, and `cut`
// says how many and how large the row would have been.
import { QMP_BOUNDS } from './bounds.js';

/** Room left for the envelope and labtel's own fields (poll_ms, events_dropped, problems, cut, ...). */
export const ROW_SLACK_BYTES = 16 << 10;
const ORDER = ['kvm_vcpu', 'kvm_vcpu_rates', 'kvm_vm', 'block', 'vcpus'] as const;

const bytes = (v: unknown): number => Buffer.byteLength(JSON.stringify(v) ?? 'null', 'utf8');

/**
 * Cuts `fields` in place so that fields + reasons take at most
 * rowBytes - ROW_SLACK_BYTES; records what it left out in `cut`. Returns the
 * size it measured before cutting.
 */
export function fitRow(fields: Record<string, unknown>, reasons: Record<string, string>, cut: Record<string, string>, rowBytes: number = QMP_BOUNDS.rowBytes): number {
  const budget = rowBytes - ROW_SLACK_BYTES;
  const before = bytes(fields) + bytes(reasons);
  let size = before;
  for (const field of ORDER) {
    if (size <= budget) break;
    const v = fields[field];
    if (typeof v !== 'object' || v === null) continue;
    const isList = Array.isArray(v);
    const entries: Array<[string, unknown]> = isList ? (v as unknown[]).map((x, i) => [String(i), x]) : Object.entries(v);
    if (!entries.length) continue;
    let removed = 0;
    let keep = entries.length;
    while (keep > 0 && size - removed > budget) {
      keep--;
      const [k, x] = entries[keep]!;
      removed += (isList ? 0 : bytes(k) + 1) + bytes(x) + 1;
    }
    if (isList) fields[field] = (v as unknown[]).slice(0, keep);
    else {
      const o = Object.create(null) as Record<string, unknown>;
      for (const [k, x] of entries.slice(0, keep)) o[k] = x;
      fields[field] = o;
    }
    size -= removed;
    const what = `${entries.length - keep} of its ${entries.length} entries left out to keep the row within ${rowBytes} bytes (it would have been ${before})`;
    cut[field] = cut[field] ? `${cut[field]}; ${what}` : what;
  }
  if (size > budget) {
    // Only the reasons are left to cut (they are bounded well under the budget: this is a bug guard).
    for (const k of Object.keys(reasons)) if (k.includes('.')) delete reasons[k];
    cut.null_reasons = `${cut.null_reasons ? `${cut.null_reasons}; ` : ''}nested null_reasons (inside block, kvm_vcpu_rates, migration, balloon_guest) left out to keep the row within ${rowBytes} bytes`;
  }
  return before;
}
