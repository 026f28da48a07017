// The balloon driver's guest memory statistics. Where query-balloon answers
// (a balloon device exists), labtel finds the device's QOM path once per
// connection (a child of /machine/peripheral or /machine/peripheral-anon of
// a virtio-balloon type), sets its guest-stats-polling-interval (the guest
// then sends statistics that often), and reads guest-stats that often
// (balloon-schedule.ts).
// QEMU reports a statistic the guest did not send as 2^64-1 (-1 as u64):
// null with that reason. last-update is when QEMU last got statistics from
// the guest (host wall clock, s); 0 means never: no driver, or one that does
// not send statistics.
import { isCount, isObject, objects, own, short } from './values.js';

/** Our field, QEMU's name in guest-stats.stats (QEMU 7.2's list). */
const STATS = [
  ['swap_in_bytes', 'stat-swap-in'],
  ['swap_out_bytes', 'stat-swap-out'],
  ['major_faults', 'stat-major-faults'],
  ['minor_faults', 'stat-minor-faults'],
  ['free_memory_bytes', 'stat-free-memory'],
  ['total_memory_bytes', 'stat-total-memory'],
  ['available_memory_bytes', 'stat-available-memory'],
  ['disk_caches_bytes', 'stat-disk-caches'],
  ['hugetlb_allocations', 'stat-htlb-pgalloc'],
  ['hugetlb_failures', 'stat-htlb-pgfail'],
] as const;
export const BALLOON_STATS = STATS.map(([f]) => f);
/** How far last-update may be ahead of labtel's wall clock (both are the host's clock; this is for a clock step) before the statistics are refused. */
export const FUTURE_MARGIN_S = 60;
/** QOM containers searched for the balloon device, and how many of their children are looked at. */
const CONTAINERS = ['/machine/peripheral', '/machine/peripheral-anon'] as const;
const MAX_CHILDREN = 1024;

/** The child names labtel puts in a path it sends (qom-set, qom-get): QEMU's id form, or what QEMU names anonymous devices. */
export const QOM_CHILD_NAME = /^(?:[A-Za-z][A-Za-z0-9._-]{0,127}|device\[\d{1,6}\])$/;

/**
 * The QOM path of the first virtio-balloon device, or null with why. The names come from QEMU (qom-list) and steer
 * the paths labtel sends: a balloon child whose name is not QOM_CHILD_NAME (`../x`, a line end) is skipped and told to `bad`.
 */
export async function findBalloon(exec: <T>(command: string, args?: object) => Promise<T>, bad: (name: unknown) => void = () => {}): Promise<{ path: string | null; why?: string }> {
  for (const base of CONTAINERS) {
    const children = objects(await exec<unknown>('qom-list', { path: base })).slice(0, MAX_CHILDREN) as Array<{ name?: unknown; type?: unknown }>;
    for (const c of children) {
      if (typeof c.type !== 'string' || !/^child<virtio-balloon/.test(c.type)) continue;
      if (typeof c.name === 'string' && QOM_CHILD_NAME.test(c.name)) return { path: `${base}/${c.name}` };
      bad(c.name);
    }
  }
  return { path: null, why: `query-balloon answers but no virtio-balloon device is a child of ${CONTAINERS.join(' or ')}` };
}

/** guest-stats as labtel takes them: the statistics (null with why), and reasons for single statistics by field path. */
export interface GuestStats {
  value: Record<string, number | null> | null;
  why?: string;
  reasons: Record<string, string>;
}

/** guest-stats as our object, or null with why; reasons for single statistics by field path. */
export function takeGuestStats(r: unknown, nowS: number = Date.now() / 1000): GuestStats {
  const reasons: Record<string, string> = {};
  if (!isObject(r)) return { value: null, why: `qom-get guest-stats: QEMU sent ${short(r)}`, reasons };
  const last = own(r, 'last-update');
  const stats = own(r, 'stats');
  if (!isCount(last) || !isObject(stats)) return { value: null, why: `qom-get guest-stats: QEMU sent last-update ${short(last)} and stats ${short(stats)}`, reasons };
  if (last > nowS + FUTURE_MARGIN_S)
    return { value: null, why: `QEMU sent last-update ${last}, ${Math.round(last - nowS)} s after labtel's wall clock at its answer (more than ${FUTURE_MARGIN_S} s): not statistics of a time that has come`, reasons };
  if (last === 0) return { value: null, why: 'the guest has sent no memory statistics (last-update 0): its balloon driver is absent, not loaded, or does not send them', reasons };
  const value: Record<string, number | null> = { last_update_s: last, asked_ms_before: 0 };
  for (const [field, name] of STATS) {
    const v = own(stats, name);
    value[field] = isCount(v) ? v : null;
    // 2^64-1 does not fit a double exactly: it parses as 18446744073709551616, past the safe integers.
    if (v === undefined) reasons[`balloon_guest.${field}`] = `QEMU did not report ${name}`;
    else if (v === -1 || (typeof v === 'number' && v >= 2 ** 64 - 2048)) reasons[`balloon_guest.${field}`] = `the guest did not provide ${name} (QEMU reports -1)`;
    else if (!isCount(v)) reasons[`balloon_guest.${field}`] = `QEMU sent ${name} ${short(v)}`;
  }
  return { value, reasons };
}
