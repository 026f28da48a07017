// One poll of QEMU: the queries of a qmp row, each allowed to fail on its
// own. Values are taken as QEMU reports them, but checked: a counter that is
// not a non-negative integer is null with what QEMU sent, and names QEMU
// chooses (devices, statistics) are kept in objects with no prototype.
import type { QmpClient } from '../../qmp/client.js';
import { QapiError } from '../../util/qapi-error.js';

const BLOCK_FIELDS = [
  'rd_bytes', 'wr_bytes', 'rd_operations', 'wr_operations', 'flush_operations',
  'rd_total_time_ns', 'wr_total_time_ns', 'flush_total_time_ns',
  'failed_rd_operations', 'failed_wr_operations', 'failed_flush_operations', 'idle_time_ns',
] as const;

const dict = <T>(): Record<string, T> => Object.create(null) as Record<string, T>;
/** The objects of a list QEMU sent (anything else in it, or a non-list, is skipped). */
const objects = (v: unknown): object[] => (Array.isArray(v) ? v.filter((x): x is object => typeof x === 'object' && x !== null && !Array.isArray(x)) : []);
const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
const short = (v: unknown) => {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
};

export interface PollState {
  /** Queries QEMU lacks or refuses for good (CommandNotFound, no balloon): asked no more, with why. */
  disabled: Map<string, string>;
  /** Whether query-stats has vm / vcpu statistics here (from query-stats-schemas, asked once). */
  statsTargets: Set<string> | null;
}

export const newPollState = (): PollState => ({ disabled: new Map(), statsTargets: null });

export interface PollResult {
  fields: Record<string, unknown>;
  reasons: Record<string, string>;
}

/** Errors that mean "this QEMU will never answer this": ask once, then record it. */
const FOR_GOOD = new Set(['CommandNotFound', 'DeviceNotActive']);

export async function pollQemu(c: QmpClient, st: PollState): Promise<PollResult> {
  const fields: Record<string, unknown> = {};
  const reasons: Record<string, string> = {};
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
      take(await c.execute<T>(command, args));
    } catch (err) {
      const why = err instanceof QapiError ? `${command}: QEMU answered ${err.errorClass}: ${err.desc}` : (err as Error).message;
      if (err instanceof QapiError && FOR_GOOD.has(err.errorClass)) st.disabled.set(command, why);
      for (const t of targets) {
        fields[t] = null;
        reasons[t] = why;
      }
    }
  };

  await ask<{ status?: unknown; running?: unknown }>('query-status', undefined, ['status', 'running'], (r) => {
    fields.status = typeof r?.status === 'string' ? r.status.slice(0, 64) : null;
    fields.running = typeof r?.running === 'boolean' ? r.running : null;
    if (fields.status === null) reasons.status = `query-status: QEMU sent status ${short(r?.status)}`;
    if (fields.running === null) reasons.running = `query-status: QEMU sent running ${short(r?.running)}`;
  });

  await ask<unknown>('query-blockstats', undefined, ['block'], (r) => {
    const block = dict<Record<string, number | null>>();
    for (const d of objects(r)) {
      const dev = d as { device?: unknown; qdev?: unknown; 'node-name'?: unknown; stats?: Record<string, unknown> };
      const name = [dev.device, dev.qdev, dev['node-name']].find((x) => typeof x === 'string' && x !== '') as string | undefined;
      if (!name || typeof dev.stats !== 'object' || dev.stats === null) continue;
      const s = dev.stats;
      const row = dict<number | null>();
      for (const k of BLOCK_FIELDS) {
        const v = s[k];
        row[k] = isCount(v) ? v : null;
        if (v !== undefined && !isCount(v)) reasons[`block.${name}.${k}`] = `QEMU sent ${short(v)}`;
        else if (v === undefined) reasons[`block.${name}.${k}`] = k === 'idle_time_ns' ? 'QEMU reports it only once the device saw I/O' : 'QEMU did not report it';
      }
      block[name.slice(0, 256)] = row;
    }
    fields.block = block;
  });

  await ask<unknown>('query-cpus-fast', undefined, ['vcpus'], (r) => {
    fields.vcpus = objects(r)
      .map((x) => x as { 'cpu-index'?: unknown; 'thread-id'?: unknown; 'qom-path'?: unknown })
      .filter((x) => Number.isSafeInteger(x['cpu-index']) && Number.isSafeInteger(x['thread-id']))
      .map((x) => ({ cpu_index: x['cpu-index'] as number, thread_id: x['thread-id'] as number, qom_path: typeof x['qom-path'] === 'string' ? x['qom-path'].slice(0, 256) : '' }));
  });

  if (st.statsTargets === null && !st.disabled.has('query-stats')) {
    try {
      const schemas = await c.execute<Array<{ target?: unknown }>>('query-stats-schemas');
      st.statsTargets = new Set((objects(schemas) as Array<{ target?: unknown }>).map((s) => String(s.target)));
    } catch (err) {
      // QEMU without query-stats: recorded on every row. A timeout or a lost connection: asked again next poll.
      if (err instanceof QapiError) st.disabled.set('query-stats', `query-stats-schemas: QEMU answered ${err.errorClass}`);
    }
  }
  for (const [target, field] of [['vm', 'kvm_vm'], ['vcpu', 'kvm_vcpu']] as const) {
    if (st.statsTargets && !st.statsTargets.has(target)) {
      fields[field] = null;
      reasons[field] = `query-stats has no ${target} statistics in this QEMU (KVM statistics exist only under accel=kvm)`;
      continue;
    }
    await ask<unknown>('query-stats', { target }, [field], (r) => {
      const out = dict<unknown>();
      for (const p of objects(r) as Array<{ 'qom-path'?: unknown; stats?: unknown }>) {
        const values = dict<unknown>();
        for (const s of objects(p.stats) as Array<{ name?: unknown; value?: unknown }>) {
          const ok = typeof s.value === 'number' || typeof s.value === 'boolean' || (Array.isArray(s.value) && s.value.every((v) => typeof v === 'number'));
          if (typeof s.name === 'string' && ok) values[s.name.slice(0, 128)] = s.value;
        }
        if (target === 'vm') Object.assign(out, values);
        else out[typeof p['qom-path'] === 'string' ? p['qom-path'].slice(0, 256) : '?'] = values;
      }
      fields[field] = out;
    });
  }

  await ask<{ actual?: unknown }>('query-balloon', undefined, ['balloon_actual_bytes'], (r) => {
    fields.balloon_actual_bytes = isCount(r?.actual) ? r.actual : null;
    if (!isCount(r?.actual)) reasons.balloon_actual_bytes = `query-balloon: QEMU sent actual ${short(r?.actual)}`;
  });
  return { fields, reasons };
}
