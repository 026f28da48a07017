// One poll of QEMU: the queries of a qmp row, each allowed to fail on its
// own. Values are taken as QEMU reports them, but checked: a counter that is
// not a non-negative integer is null with what QEMU sent, and names QEMU
// chooses (devices, statistics) are kept in objects with no prototype. What
// one answer may put in the row is bounded (bounds.ts): devices, vCPUs,
// statistics, histogram buckets, name lengths and nested null_reasons are
// cut at their bound, and each cut is said in `cut`.
import type { QmpClient } from '../../qmp/client.js';
import { QapiError } from '../../util/qapi-error.js';
import type { QmpProblemKind } from '../../qmp/problems.js';
import { QMP_BOUNDS } from './bounds.js';
import { dict, failure, isCount, objects, short } from './values.js';
import { kvmRates, type KvmRateState } from './kvm-rates.js';
import { HISTOGRAM_FIELDS, LATENCY_BOUNDARIES_NS, takeHistogram } from './block-histograms.js';
import { takeMigration } from './migration.js';
import { findBalloon, takeGuestStats, type GuestStats } from './balloon.js';
import { guestStatsDue, carriedGuestStats } from './balloon-schedule.js';
import { migrateDue, settledBy, type EventsSeen, type MigrateSettled } from './migrate-schedule.js';

const BLOCK_FIELDS = [
  'rd_bytes', 'wr_bytes', 'rd_operations', 'wr_operations', 'flush_operations',
  'rd_total_time_ns', 'wr_total_time_ns', 'flush_total_time_ns',
  'failed_rd_operations', 'failed_wr_operations', 'failed_flush_operations', 'idle_time_ns',
] as const;

export interface PollState {
  /** Queries QEMU lacks or refuses for good (CommandNotFound, no balloon): asked no more, with why. */
  disabled: Map<string, string>;
  /** Whether query-stats has vm / vcpu statistics here (from query-stats-schemas, asked once). */
  statsTargets: Set<string> | null;
  /** The previous poll's per-vCPU exit counters (kvm_vcpu_rates never spans connections: the state is per connection). */
  kvm: KvmRateState;
  /** Per device id or QOM path: true once block-latency-histogram-set took, else QEMU's answer (asked no more). */
  histograms: Map<string, true | string>;
  /** migrate-set-capabilities events=on: true once it took, else why; null before it was asked. */
  migrationEvents: true | string | null;
  /** The balloon's QOM path once looked for (null with why when none was found or its polling could not be set). */
  balloon: { path: string | null; why?: string } | undefined;
  /** guest-stats-polling-interval, s: how often the guest sends its memory statistics. */
  balloonPollS: number;
  /** One-time setup commands sent on this connection and not answered (a timeout, the connection lost): how often, and the last why. */
  unanswered: Map<SetupKey, { n: number; why: string }>;
  /** The poll interval, ms. */
  intervalMs: number;
  /** QMP goes through libvirt, which owns the balloon's polling period (the domain's <memballoon><stats period>): read, never set. */
  throughLibvirt: boolean;
  /** The clock of the asking schedules below, ms (performance.now; tests give their own). */
  nowMs: () => number;
  /** The last guest-stats answer QEMU gave on this connection, and when: carried into the polls that do not ask (balloon-schedule.ts). */
  guestStats: { atMs: number; g: GuestStats } | null;
  /** What the run loop saw of this connection's events: MIGRATION and MIGRATION_PASS events, and events dropped (noteEvents). */
  seen: EventsSeen;
  /** The last query-migrate that settled it (see migrateDue), or null: ask. */
  migrate: MigrateSettled | null;
}

/** The one-time setups of a connection, each asked after the poll's data queries. */
export type SetupKey = 'block-latency-histogram-set' | 'migrate-set-capabilities' | 'balloon setup (qom-list, qom-set)' | 'query-stats-schemas';
/** How often a setup command may go unanswered on one connection before labtel stops sending it (until a reconnect). */
export const SETUP_TRIES = 3;

/** One per QMP connection: a new connection (a reconnect, a restarted QEMU) starts with no rates and sets everything up again. */
export const newPollState = (o: { intervalMs?: number; nowMs?: () => number; throughLibvirt?: boolean } = {}): PollState => ({
  disabled: new Map(),
  statsTargets: null,
  kvm: { prev: null },
  histograms: new Map(),
  migrationEvents: null,
  balloon: undefined,
  balloonPollS: Math.max(1, Math.round((o.intervalMs ?? 1000) / 1000)),
  unanswered: new Map(),
  intervalMs: o.intervalMs ?? 1000,
  throughLibvirt: o.throughLibvirt ?? false,
  nowMs: o.nowMs ?? (() => performance.now()),
  guestStats: null,
  seen: { migration: 0, dropped: 0 },
  migrate: null,
});

export interface PollResult {
  fields: Record<string, unknown>;
  reasons: Record<string, string>;
  /** What was left out to stay within the bounds, by field ('block', 'vcpus', 'kvm_vm', 'kvm_vcpu', 'names', 'null_reasons'). */
  cut: Record<string, string>;
}

/** A query the poll did not send: its budget was spent (not an unanswered command). */
class NotAsked extends Error {}

/** A device's histograms before labtel's set: the poll lists it, then asks the set after its queries. */
const SET_PENDING =
  "not set yet on this connection: labtel asks block-latency-histogram-set after this poll's queries, and writes QEMU's histograms from the poll after a set succeeded (what QEMU kept before, from another client or an earlier connection, is reset by it)";

/** Errors that mean "this QEMU will never answer this": ask once, then record it. */
const FOR_GOOD = new Set(['CommandNotFound', 'DeviceNotActive']);

/** query-migrate's answer when no migration has run: an object without a status. */
const isNone = (r: unknown) => typeof r === 'object' && r !== null && !Array.isArray(r) && !Object.hasOwn(r, 'status');

/** Counts what a poll cut, and says it once per field. */
class Cuts {
  readonly out: Record<string, string> = {};
  namesCut = 0;
  /** Nested null_reasons left out past the bound, by the field they are inside (block, kvm_vcpu_rates). */
  readonly reasonsLeftOut = new Map<string, number>();
  nestedReasons = 0;

  set(field: string, message: string): void {
    this.out[field] = this.out[field] ? `${this.out[field]}; ${message}` : message;
  }

  /** A name QEMU chose, at most nameChars characters (counted when cut; see kept()). */
  name(s: string): string {
    if (s.length <= QMP_BOUNDS.nameChars) return s;
    this.namesCut++;
    return s.slice(0, QMP_BOUNDS.nameChars);
  }

  /** A name QEMU chose, at most nameChars characters, not yet counted: kept(raw) counts it once it is kept. */
  static short(s: string): string {
    return s.length <= QMP_BOUNDS.nameChars ? s : s.slice(0, QMP_BOUNDS.nameChars);
  }

  /** The entry named `raw` is in the row: its name counts as cut if it was. */
  kept(raw: string): void {
    if (raw.length > QMP_BOUNDS.nameChars) this.namesCut++;
  }

  finish(): Record<string, string> {
    if (this.namesCut) this.set('names', `${this.namesCut} name${this.namesCut === 1 ? '' : 's'} longer than ${QMP_BOUNDS.nameChars} characters cut to their first ${QMP_BOUNDS.nameChars}`);
    if (this.reasonsLeftOut.size)
      this.set(
        'null_reasons',
        `${[...this.reasonsLeftOut].map(([f, n]) => `${n} null_reasons inside ${f}`).join(', ')} left out (the first ${QMP_BOUNDS.nestedReasons} inside block and kvm_vcpu_rates are kept): a null there without its own reason is one of these`,
      );
    return this.out;
  }
}

/**
 * How long one poll may wait for QEMU in all (ms, from its first question):
 * a QEMU that leaves every command unanswered (replies under wrong ids, or
 * none) costs one command timeout per poll, not one per query.
 */
export interface PollBudget {
  ms: number;
}

export async function pollQemu(
  c: QmpClient,
  st: PollState,
  budget: PollBudget = { ms: Infinity },
  problem: (kind: QmpProblemKind, message: () => string) => void = () => {},
): Promise<PollResult> {
  const t0 = performance.now();
  let asked = 0;
  // The first query has the client's own timeout; the others what is left of the poll's budget (not asked with under a tenth left).
  const exec = <T>(command: string, args?: object): Promise<T> => {
    if (asked++ === 0 || budget.ms === Infinity) return c.execute<T>(command, args);
    const left = budget.ms - (performance.now() - t0);
    if (left < budget.ms / 10) return Promise.reject(new NotAsked(`${command}: not asked: this poll already waited ${budget.ms} ms for QEMU`));
    return c.execute<T>(command, args, { ms: left, message: `${command}: no reply before the poll's ${budget.ms} ms were spent` });
  };
  const fields: Record<string, unknown> = {};
  const reasons: Record<string, string> = {};
  const cuts = new Cuts();
  const nestedReason = (key: string, why: string) => {
    if (cuts.nestedReasons >= QMP_BOUNDS.nestedReasons) {
      const f = key.slice(0, key.indexOf('.'));
      cuts.reasonsLeftOut.set(f, (cuts.reasonsLeftOut.get(f) ?? 0) + 1);
      return;
    }
    cuts.nestedReasons++;
    reasons[key] = why;
  };
  const ask = async <T>(command: string, args: object | undefined, targets: string[], take: (r: T) => void) => {
    const off = st.disabled.get(command);
    if (off) {
      for (const t of targets) {
        fields[t] = null;
        reasons[t] = off;
      }
      return;
    }
    try {
      take(await exec<T>(command, args));
    } catch (err) {
      const why = failure(command, err);
      if (err instanceof QapiError && FOR_GOOD.has(err.errorClass)) st.disabled.set(command, why);
      for (const t of targets) {
        fields[t] = null;
        reasons[t] = why;
      }
    }
  };

  /** Why a setup is not done yet after unanswered tries (undefined: none went unanswered). */
  const unansweredWhy = (key: SetupKey): string | undefined => {
    const u = st.unanswered.get(key);
    if (!u) return undefined;
    return u.n >= SETUP_TRIES
      ? `${key} was not answered ${u.n} times on this connection (last: ${u.why}): not asked again until a reconnect`
      : `${key} was not answered (${u.n} of ${SETUP_TRIES} tries on this connection; last: ${u.why}): asked again after the next poll's queries`;
  };
  const givenUp = (key: SetupKey) => (st.unanswered.get(key)?.n ?? 0) >= SETUP_TRIES;
  /**
   * A one-time setup, after the poll's data queries: 'ok', QEMU's refusal (a QapiError: kept by the caller),
   * or 'later' (unanswered: counted, tried again on later polls up to SETUP_TRIES; or not asked: the poll's budget was spent).
   */
  const setup = async (key: SetupKey, run: () => Promise<unknown>): Promise<'ok' | 'later' | QapiError> => {
    try {
      await run();
      return 'ok';
    } catch (err) {
      if (err instanceof QapiError) return err;
      if (!(err instanceof NotAsked)) st.unanswered.set(key, { n: (st.unanswered.get(key)?.n ?? 0) + 1, why: failure(key, err).slice(0, 300) });
      return 'later';
    }
  };

  await ask<{ status?: unknown; running?: unknown }>('query-status', undefined, ['status', 'running'], (r) => {
    fields.status = typeof r?.status === 'string' ? r.status.slice(0, 64) : null;
    fields.running = typeof r?.running === 'boolean' ? r.running : null;
    if (fields.status === null) reasons.status = `query-status: QEMU sent status ${short(r?.status)}`;
    if (fields.running === null) reasons.running = `query-status: QEMU sent running ${short(r?.running)}`;
  });

  /** Devices to set latency histograms on after this poll's query-blockstats: their id (else QOM path). */
  const toSet: string[] = [];
  let histogramsCut = 0;
  await ask<unknown>('query-blockstats', undefined, ['block'], (r) => {
    const block = dict<Record<string, unknown>>();
    let devices = 0;
    let repeated = 0;
    for (const d of objects(r)) {
      const dev = d as { device?: unknown; qdev?: unknown; 'node-name'?: unknown; stats?: Record<string, unknown> };
      const raw = [dev.device, dev.qdev, dev['node-name']].find((x) => typeof x === 'string' && x !== '') as string | undefined;
      if (!raw || typeof dev.stats !== 'object' || dev.stats === null) continue;
      devices++;
      if (devices > QMP_BOUNDS.devices) continue; // counted, not kept
      const name = Cuts.short(raw); // counted as cut only if kept (not a repeat)
      if (Object.hasOwn(block, name)) {
        repeated++;
        continue;
      }
      cuts.kept(raw);
      const s = dev.stats;
      const row = dict<unknown>();
      for (const k of BLOCK_FIELDS) {
        const v = Object.hasOwn(s, k) ? s[k] : undefined;
        row[k] = isCount(v) ? v : null;
        if (v !== undefined && !isCount(v)) nestedReason(`block.${name}.${k}`, `QEMU sent ${short(v)}`);
        else if (v === undefined) nestedReason(`block.${name}.${k}`, k === 'idle_time_ns' ? 'QEMU reports it only once the device saw I/O' : 'QEMU did not report it');
      }
      // block-latency-histogram-set names a device by its id or QOM path (a node name alone will not do).
      const id = [dev.qdev, dev.device].find((x) => typeof x === 'string' && x !== '' && x.length <= QMP_BOUNDS.nameChars) as string | undefined;
      const set = id === undefined ? undefined : st.histograms.get(id);
      // Until a set of ours succeeded, what QEMU reports is not written: it may be another client's, or an earlier
      // connection's, which the set is about to reset (the row after would go back to zero).
      let notYet: string | undefined;
      if (id !== undefined && set === undefined) {
        if (givenUp('block-latency-histogram-set')) notYet = unansweredWhy('block-latency-histogram-set');
        else if (toSet.includes(id)) notYet = unansweredWhy('block-latency-histogram-set') ?? SET_PENDING;
        else if (st.histograms.size + toSet.length >= QMP_BOUNDS.devices) notYet = `not set: labtel sets latency histograms on at most ${QMP_BOUNDS.devices} devices per connection`;
        else {
          toSet.push(id);
          notYet = unansweredWhy('block-latency-histogram-set') ?? SET_PENDING;
        }
      }
      for (const k of HISTOGRAM_FIELDS) {
        const v = Object.hasOwn(s, k) ? s[k] : undefined;
        row[k] = null;
        if (id === undefined) nestedReason(`block.${name}.${k}`, `a device without an id or QOM path of at most ${QMP_BOUNDS.nameChars} characters: block-latency-histogram-set cannot name it`);
        else if (typeof set === 'string') nestedReason(`block.${name}.${k}`, set);
        else if (set === undefined) nestedReason(`block.${name}.${k}`, notYet!);
        else if (v !== undefined) {
          const h = takeHistogram(v);
          row[k] = h.h;
          if (h.tooLong) histogramsCut++;
          if (h.why) nestedReason(`block.${name}.${k}`, h.why);
        } else nestedReason(`block.${name}.${k}`, 'QEMU did not report it (its histograms were set on this connection: cleared since?)');
      }
      block[name] = row;
    }
    if (devices > QMP_BOUNDS.devices) cuts.set('block', `${devices} devices, kept the first ${QMP_BOUNDS.devices}`);
    if (repeated) cuts.set('block', `${repeated} device${repeated === 1 ? '' : 's'} whose name repeats an earlier one skipped`);
    if (histogramsCut) cuts.set('block', `${histogramsCut} latency histogram${histogramsCut === 1 ? '' : 's'} of more than ${QMP_BOUNDS.histogramBuckets} bins left out`);
    fields.block = block;
  });
  await ask<unknown>('query-cpus-fast', undefined, ['vcpus'], (r) => {
    const valid = objects(r)
      .map((x) => x as { 'cpu-index'?: unknown; 'thread-id'?: unknown; 'qom-path'?: unknown })
      .filter((x) => Number.isSafeInteger(x['cpu-index']) && Number.isSafeInteger(x['thread-id']));
    if (valid.length > QMP_BOUNDS.vcpus) cuts.set('vcpus', `${valid.length} vCPUs, kept the first ${QMP_BOUNDS.vcpus}`);
    fields.vcpus = valid
      .slice(0, QMP_BOUNDS.vcpus)
      .map((x) => ({ cpu_index: x['cpu-index'] as number, thread_id: x['thread-id'] as number, qom_path: typeof x['qom-path'] === 'string' ? cuts.name(x['qom-path']) : '' }));
  });

  // Asked once per connection; unanswered, at most SETUP_TRIES times (a QEMU that never answers it would otherwise
  // cost every poll that wait before its KVM statistics). Not known, query-stats is asked for both targets.
  if (st.statsTargets === null && !st.disabled.has('query-stats') && !givenUp('query-stats-schemas')) {
    try {
      const schemas = await exec<Array<{ target?: unknown }>>('query-stats-schemas');
      st.statsTargets = new Set((objects(schemas) as Array<{ target?: unknown }>).slice(0, 64).map((s) => (typeof s.target === 'string' ? s.target.slice(0, 64) : '')));
    } catch (err) {
      // QEMU without query-stats: recorded on every row. A timeout or a lost connection: asked again next poll.
      if (err instanceof QapiError) st.disabled.set('query-stats', `query-stats-schemas: QEMU answered ${err.errorClass.slice(0, 64)}`);
      else if (!(err instanceof NotAsked)) st.unanswered.set('query-stats-schemas', { n: (st.unanswered.get('query-stats-schemas')?.n ?? 0) + 1, why: failure('query-stats-schemas', err).slice(0, 300) });
    }
  }
  let vcpuStatsAt = 0;
  const sharedKeys = new Set<string>();
  for (const [target, field] of [['vm', 'kvm_vm'], ['vcpu', 'kvm_vcpu']] as const) {
    if (st.statsTargets && !st.statsTargets.has(target)) {
      fields[field] = null;
      reasons[field] = `query-stats has no ${target} statistics in this QEMU (KVM statistics exist only under accel=kvm)`;
      continue;
    }
    await ask<unknown>('query-stats', { target }, [field], (r) => {
      if (target === 'vcpu') vcpuStatsAt = performance.now();
      const out = dict<unknown>();
      let stats = 0; // over the bound, on the vm or on any one vCPU
      let histograms = 0;
      let paths = 0;
      const skippedPaths = new Set<string>();
      // vCPUs merged under one key (no qom-path: '?', or paths equal in their first nameChars characters, or one listed
      // twice by the same provider): their statistics cannot be told apart, so they get no rate.
      const firstRaw = new Map<string, { raw: string; providers: Set<unknown> }>();
      // How many statistics each target holds: counted here, since Object.keys() per entry made an answer of
      // 600,000 entries for one target (1024 statistics each time) a poll of minutes with the worker's thread blocked.
      const held = new Map<Record<string, unknown>, number>();
      // A number JSON cannot write (1e400 parses as Infinity) would be written as null, which the row's schema refuses.
      const finite = (x: unknown) => typeof x === 'number' && Number.isFinite(x);
      const take = (values: Record<string, unknown>, list: unknown) => {
        let n = held.get(values) ?? 0;
        for (const s of objects(list) as Array<{ name?: unknown; value?: unknown }>) {
          const v = s.value;
          const ok = finite(v) || typeof v === 'boolean' || (Array.isArray(v) && v.every(finite));
          if (typeof s.name !== 'string' || !ok) continue;
          const name = Cuts.short(s.name);
          if (Object.hasOwn(values, name)) continue;
          if (n >= QMP_BOUNDS.statsPerTarget) {
            stats++;
            continue;
          }
          n++;
          cuts.kept(s.name);
          if (Array.isArray(v) && v.length > QMP_BOUNDS.histogramBuckets) histograms++;
          values[name] = Array.isArray(v) ? v.slice(0, QMP_BOUNDS.histogramBuckets) : v;
        }
        held.set(values, n);
      };
      for (const p of objects(r) as Array<{ 'qom-path'?: unknown; stats?: unknown }>) {
        if (target === 'vm') {
          take(out as Record<string, unknown>, p.stats);
          continue;
        }
        const raw = typeof p['qom-path'] === 'string' ? p['qom-path'] : '?';
        const path = Cuts.short(raw);
        const provider = (p as { provider?: unknown }).provider;
        const seen = firstRaw.get(path);
        if (seen) {
          if (seen.raw !== raw || seen.providers.has(provider)) sharedKeys.add(path);
          seen.providers.add(provider);
        } else if (paths < QMP_BOUNDS.vcpus) firstRaw.set(path, { raw, providers: new Set([provider]) });
        if (typeof p['qom-path'] !== 'string') sharedKeys.add(path);
        if (!Object.hasOwn(out, path)) {
          // vCPUs past the bound, each counted once however often it is listed (the set is bounded by QEMU's answer).
          if (paths >= QMP_BOUNDS.vcpus) {
            skippedPaths.add(path);
            continue;
          }
          paths++;
          cuts.kept(raw);
          out[path] = dict<unknown>();
        }
        take(out[path] as Record<string, unknown>, p.stats);
      }
      if (skippedPaths.size) cuts.set(field, `${paths + skippedPaths.size} vCPUs, kept the first ${QMP_BOUNDS.vcpus}`);
      if (stats) cuts.set(field, `${stats} statistics past the first ${QMP_BOUNDS.statsPerTarget} of a ${target === 'vm' ? 'VM' : 'vCPU'} left out`);
      if (histograms) cuts.set(field, `${histograms} histogram${histograms === 1 ? '' : 's'} longer than ${QMP_BOUNDS.histogramBuckets} buckets cut to their first ${QMP_BOUNDS.histogramBuckets}`);
      // Asked without query-stats-schemas' answer (it went unanswered): an empty answer is this QEMU having no such
      // statistics (under TCG), not statistics that read as nothing.
      if (st.statsTargets === null && objects(r).length === 0) {
        fields[field] = null;
        reasons[field] = `query-stats answered no ${target} statistics (query-stats-schemas went unanswered, so labtel asked anyway; KVM statistics exist only under accel=kvm)`;
        return;
      }
      fields[field] = out;
    });
  }

  const rates = kvmRates(fields.kvm_vcpu as Record<string, Record<string, unknown>> | null, reasons.kvm_vcpu, vcpuStatsAt, st.kvm, nestedReason, sharedKeys);
  fields.kvm_vcpu_rates = rates.rates;
  fields.kvm_rate_window_ms = rates.windowMs;
  if (rates.reason) reasons.kvm_vcpu_rates = reasons.kvm_rate_window_ms = rates.reason;

  let balloon = false;
  await ask<{ actual?: unknown }>('query-balloon', undefined, ['balloon_actual_bytes'], (r) => {
    balloon = true;
    fields.balloon_actual_bytes = isCount(r?.actual) ? r.actual : null;
    if (!isCount(r?.actual)) reasons.balloon_actual_bytes = `query-balloon: QEMU sent actual ${short(r?.actual)}`;
  });
  const putGuestStats = (g: GuestStats) => {
    fields.balloon_guest = g.value;
    if (g.why) reasons.balloon_guest = g.why;
    Object.assign(reasons, g.reasons);
  };
  const guestStats = async (path: string) => {
    // The guest sends statistics every balloonPollS: asked that often, the answer carried (with its last-update) in between.
    const now = st.nowMs();
    if (!guestStatsDue(st, now)) return putGuestStats(carriedGuestStats(st, now));
    try {
      const g = takeGuestStats(await exec<unknown>('qom-get', { path, property: 'guest-stats' }), Date.now() / 1000);
      st.guestStats = { atMs: now, g };
      putGuestStats(g);
    } catch (err) {
      st.guestStats = null;
      reasons.balloon_guest = failure('qom-get guest-stats', err);
    }
  };
  const balloonKey = 'balloon setup (qom-list, qom-set)' as const;
  fields.balloon_guest = null;
  if (!balloon) reasons.balloon_guest = reasons.balloon_actual_bytes ?? 'query-balloon did not answer';
  else if (st.balloon?.path) await guestStats(st.balloon.path);
  else if (st.balloon) reasons.balloon_guest = st.balloon.why!;
  else reasons.balloon_guest = unansweredWhy(balloonKey) ?? "the balloon device is not found yet on this connection: labtel looks for it after this poll's queries";

  // query-migrate only while it may have changed: see migrate-schedule.ts.
  const migrateNow = st.nowMs();
  const notAsked = migrateDue(st, migrateNow);
  if (notAsked !== null) {
    fields.migration = null;
    reasons.migration = notAsked;
  } else {
    const eventsOn = st.migrationEvents === true;
    const seen = { ...st.seen };
    const before = st.migrate;
    st.migrate = null;
    await ask<unknown>('query-migrate', undefined, ['migration'], (r) => {
      const m = takeMigration(r);
      fields.migration = m.value;
      if (m.why) reasons.migration = m.why;
      Object.assign(reasons, m.reasons);
      const status = isNone(r) ? 'none' : typeof m.value?.status === 'string' ? m.value.status : undefined;
      // Another status than the settled answer's, with no MIGRATION event since: the events capability is off (another
      // client turned it off; it is QEMU's, shared). labtel sets it again, and relies on no settled answer until then.
      if (before && status !== before.status && seen.migration === before.seen.migration) {
        st.migrationEvents = null;
        return;
      }
      st.migrate = settledBy(status, eventsOn, migrateNow, seen);
    });
  }

  // One-time setups of the connection, after the data queries: a QEMU that leaves them unanswered costs this poll's
  // data nothing, and after SETUP_TRIES unanswered tries they are not sent again until a reconnect.
  // MIGRATION events come only with the `events` capability on.
  if (st.migrationEvents === null && !st.disabled.has('query-migrate') && !givenUp('migrate-set-capabilities')) {
    const r = await setup('migrate-set-capabilities', () => exec('migrate-set-capabilities', { capabilities: [{ capability: 'events', state: true }] }));
    if (r === 'ok') st.migrationEvents = true;
    else if (r !== 'later') st.migrationEvents = `${failure('migrate-set-capabilities', r)} (not asked again on this connection)`;
  }
  fields.migration_events = st.migrationEvents === true ? true : null;
  if (st.migrationEvents !== true)
    reasons.migration_events =
      st.migrationEvents ??
      (st.disabled.has('query-migrate') ? `not asked: ${st.disabled.get('query-migrate')!}` : undefined) ??
      unansweredWhy('migrate-set-capabilities') ??
      "migrate-set-capabilities was not asked: this poll's budget was spent; asked after the next poll's queries";

  if (balloon && st.balloon === undefined && !givenUp(balloonKey)) {
    let found: { path: string | null; why?: string } | undefined;
    const r = await setup(balloonKey, async () => {
      const f = await findBalloon(exec, (name) => problem('bad_qom_name', () => `QEMU listed a QOM child named ${short(name)} (qom-list): not a QEMU id or device[N], skipped (never put in a path labtel sends)`));
      if (f.path !== null && st.throughLibvirt) {
        // libvirt set the period from the domain's XML, and its own memory statistics depend on it: labtel reads it.
        const period = await exec('qom-get', { path: f.path, property: 'guest-stats-polling-interval' });
        if (typeof period === 'number' && Number.isSafeInteger(period) && period > 0) st.balloonPollS = period;
        else {
          found = { path: null, why: `the guest's memory statistics are off (guest-stats-polling-interval ${short(period)}): the domain's <memballoon> has no <stats period='N'/>, and labtel does not change what libvirt set` };
          return;
        }
      } else if (f.path !== null) await exec('qom-set', { path: f.path, property: 'guest-stats-polling-interval', value: st.balloonPollS });
      found = f;
    });
    // QEMU's refusal (of qom-list or qom-set) holds for the connection; unanswered, it is tried again.
    if (r === 'ok') st.balloon = found;
    else if (r !== 'later') st.balloon = { path: null, why: `${failure('balloon guest-stats', r)} (not asked again on this connection)` };
    if (st.balloon?.path) await guestStats(st.balloon.path);
    else if (st.balloon) reasons.balloon_guest = st.balloon.why!;
    else reasons.balloon_guest = unansweredWhy(balloonKey) ?? "the balloon device was not looked for: this poll's budget was spent; looked for after the next poll's queries";
  }

  // Once per device and connection (at most `devices` of them): QEMU keeps the histograms from now on. This poll's are null (SET_PENDING).
  for (const id of toSet) {
    if (givenUp('block-latency-histogram-set')) break;
    const r = await setup('block-latency-histogram-set', () => exec('block-latency-histogram-set', { id, boundaries: [...LATENCY_BOUNDARIES_NS] }));
    if (r === 'ok') st.histograms.set(id, true);
    else if (r !== 'later') st.histograms.set(id, `${failure('block-latency-histogram-set', r)} (not asked again on this connection)`);
    else break; // unanswered or not asked: the rest wait for the next poll
  }
  return { fields, reasons, cut: cuts.finish() };
}
