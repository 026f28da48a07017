// Per-vCPU rates of KVM's main exit counters, from two consecutive polls of
// one QMP connection: (now - before) / the time between the two query-stats
// answers. Never across a gap: the first poll of a connection (also after a
// reconnect, so a restarted QEMU starts over), a poll without the vCPU's
// statistics, a counter missing or not a count on either side, or a counter
// that went backwards, each gives null with why. vCPUs QEMU lists under one
// key (no qom-path, or paths equal in their first 256 characters) get no rate.
import { isCount, own, short } from './values.js';

/** The counters rated, each as `<name>_per_s` (KVM on x86 reports them all per vCPU). */
export const KVM_RATE_COUNTERS = ['exits', 'io_exits', 'mmio_exits', 'halt_exits', 'irq_exits', 'irq_window_exits', 'request_irq_exits', 'signal_exits'] as const;
export type KvmRateCounter = (typeof KVM_RATE_COUNTERS)[number];

export interface KvmRateState {
  /** The previous poll's counters per vCPU QOM path and when they were answered (performance.now() ms); null: no previous poll to rate against. */
  prev: { tMs: number; byPath: Map<string, Partial<Record<KvmRateCounter, unknown>>> } | null;
}

export interface KvmRates {
  /** Per vCPU QOM path, `<counter>_per_s`; null (with `reason`) when no rate can be had this poll. */
  rates: Record<string, Record<string, number | null>> | null;
  reason: string | null;
  /** The time between the two answers the rates are from, ms. */
  windowMs: number | null;
}

/**
 * The rates for this poll's kvm_vcpu (`now`, null when the query failed or does not apply, with `whyNone`),
 * answered at `tMs`; updates `st` to this poll. `reason(key, why)` takes a null_reason for one rate.
 */
export function kvmRates(
  now: Record<string, Record<string, unknown>> | null,
  whyNone: string | undefined,
  tMs: number,
  st: KvmRateState,
  reason: (key: string, why: string) => void,
  /** Keys under which several vCPUs answered (no qom-path: '?', or paths equal in their first 256 characters): never rated. */
  shared: ReadonlySet<string> = new Set(),
): KvmRates {
  const before = st.prev;
  if (now === null) {
    st.prev = null; // the next poll must not rate across this one
    return { rates: null, reason: `no per-vCPU KVM statistics this poll (${whyNone ?? 'kvm_vcpu is null'})`, windowMs: null };
  }
  const byPath = new Map<string, Partial<Record<KvmRateCounter, unknown>>>();
  for (const [path, stats] of Object.entries(now)) {
    if (shared.has(path)) continue; // not kept for the next poll either
    const c: Partial<Record<KvmRateCounter, unknown>> = {};
    for (const k of KVM_RATE_COUNTERS) c[k] = own(stats, k);
    byPath.set(path, c);
  }
  st.prev = { tMs, byPath };
  if (before === null) return { rates: null, reason: 'the first poll of this QMP connection (a rate needs the previous poll of the same connection; a reconnect or a restarted QEMU starts over)', windowMs: null };
  const dtMs = tMs - before.tMs;
  if (!(dtMs > 0)) return { rates: null, reason: `no time passed between the two polls' answers (${dtMs} ms)`, windowMs: null };
  const rates = Object.create(null) as Record<string, Record<string, number | null>>;
  for (const path of Object.keys(now)) {
    if (!shared.has(path)) continue;
    const r: Record<string, number | null> = {};
    for (const k of KVM_RATE_COUNTERS) {
      r[`${k}_per_s`] = null;
      reason(`kvm_vcpu_rates.${path}.${k}_per_s`, 'several vCPUs answered under this key (no qom-path, or QOM paths equal in their first 256 characters): their counters cannot be told apart, so no rate');
    }
    rates[path] = r;
  }
  for (const [path, c] of byPath) {
    const p = before.byPath.get(path);
    const r: Record<string, number | null> = {};
    for (const k of KVM_RATE_COUNTERS) {
      const field = `${k}_per_s`;
      const v = c[k];
      const pv = p?.[k];
      r[field] = null;
      if (!isCount(v)) reason(`kvm_vcpu_rates.${path}.${field}`, v === undefined ? `no ${k} for this vCPU in kvm_vcpu (KVM did not report it, or QEMU sent no number)` : `QEMU sent ${k} ${short(v)}`);
      else if (!p) reason(`kvm_vcpu_rates.${path}.${field}`, 'this vCPU was not in the previous poll');
      else if (!isCount(pv)) reason(`kvm_vcpu_rates.${path}.${field}`, `the previous poll had no ${k} for this vCPU`);
      else if (v < pv) reason(`kvm_vcpu_rates.${path}.${field}`, `${k} went backwards (${pv} then ${v}): not a rate`);
      else r[field] = (v - pv) / (dtMs / 1000);
    }
    rates[path] = r;
  }
  return { rates, reason: null, windowMs: dtMs };
}
