// query-migrate, every poll: the state and figures of the migration that
// runs or last ran. With none ever started QEMU answers {} (no status), which
// is recorded as `migration` null with that reason. A figure QEMU leaves out
// (downtime before the end, expected_downtime once done) is null with why.
import { isCount, isObject, own, short } from './values.js';

/** Our field, QEMU's path in MigrationInfo. */
const FIGURES = [
  ['total_time_ms', ['total-time']],
  ['setup_time_ms', ['setup-time']],
  ['expected_downtime_ms', ['expected-downtime']],
  ['downtime_ms', ['downtime']],
  ['ram_transferred_bytes', ['ram', 'transferred']],
  ['ram_remaining_bytes', ['ram', 'remaining']],
  ['ram_total_bytes', ['ram', 'total']],
  ['ram_dirty_pages_rate', ['ram', 'dirty-pages-rate']],
  ['ram_dirty_sync_count', ['ram', 'dirty-sync-count']],
  ['ram_mbps', ['ram', 'mbps']],
] as const;
export const MIGRATION_FIGURES = FIGURES.map(([f]) => f);

/** The migration object (null when none ran), and reasons by field path (at most one per figure). */
export function takeMigration(r: unknown): { value: Record<string, string | number | null> | null; why?: string; reasons: Record<string, string> } {
  const reasons: Record<string, string> = {};
  if (!isObject(r)) return { value: null, why: `query-migrate: QEMU sent ${short(r)}`, reasons };
  const status = own(r, 'status');
  if (status === undefined) return { value: null, why: 'no migration has run on this QEMU (query-migrate answered without a status)', reasons };
  if (typeof status !== 'string') return { value: null, why: `query-migrate: QEMU sent status ${short(status)}`, reasons };
  const value: Record<string, string | number | null> = { status: status.slice(0, 64) };
  const ram = own(r, 'ram');
  for (const [field, path] of FIGURES) {
    const v = path.length === 1 ? own(r, path[0]) : isObject(ram) ? own(ram, path[1]) : undefined;
    // mbps is a rate QEMU computes as a double; the others are counts.
    const ok = field === 'ram_mbps' ? typeof v === 'number' && Number.isFinite(v) && v >= 0 : isCount(v);
    value[field] = ok ? (v as number) : null;
    if (!ok) reasons[`migration.${field}`] = v === undefined ? `QEMU did not report ${path.join('.')} (status ${value.status})` : `QEMU sent ${path.join('.')} ${short(v)}`;
  }
  return { value, reasons };
}
