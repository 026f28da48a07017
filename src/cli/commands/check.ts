// `labtel check <manifest>`: what `labtel run` would decide, without running:
// the manifest, the target, and each selected collector's preflight on this
// host (the same decideCollectors() that run uses). Exit 0 when the run
// would start, 1 when it would be refused.
import { decideCollectors } from '../../agent/run-episode.js';
import { resolveTarget } from '../../agent/target.js';
import { loadManifest } from '../../manifest/load.js';
import { KNOWN_COLLECTORS } from '../../manifest/schema.js';

export interface CheckReport {
  ok: boolean;
  /** note: why the target's vCPU threads are not named from collectors.qmp.socket (another process's, or refused), when so. */
  target: { ok: boolean; pid: number | null; reason: string | null; note?: string };
  collectors: Record<string, { decision: 'run' | 'skip' | 'refuse'; optional: boolean; reason: string }>;
  refusals: string[];
}

export async function checkManifest(file: string): Promise<CheckReport> {
  const m = loadManifest(file);
  const plan = await decideCollectors(m);
  const report: CheckReport = { ok: false, target: { ok: true, pid: null, reason: null }, collectors: {}, refusals: plan.refusals };
  for (const name of KNOWN_COLLECTORS) {
    const c = m.collectors[name];
    if (!c || !c.enabled) continue;
    const decision = plan.run.some((x) => x.name === name) ? 'run' : plan.skipped[name] ? 'skip' : 'refuse';
    report.collectors[name] = { decision, optional: c.optional, reason: plan.probes[name]!.reason };
  }
  try {
    // As run resolves it: checked against the qmp collector's socket when that collector runs.
    const qmp = m.collectors.qmp;
    const t = await resolveTarget(m.target, { qmpSocket: qmp?.enabled && plan.run.some((p) => p.name === 'qmp') ? qmp.socket : undefined });
    report.target.pid = t.pid;
    if (t.vcpu_note) report.target.note = t.vcpu_note;
  } catch (err) {
    report.target = { ok: false, pid: null, reason: (err as Error).message };
  }
  report.ok = plan.refusals.length === 0 && report.target.ok;
  return report;
}

export async function checkCommand(file: string, opts: { json?: boolean }): Promise<number> {
  const r = await checkManifest(file);
  if (opts.json) {
    console.log(JSON.stringify(r, null, 2));
  } else {
    console.log(`${'target'.padEnd(12)} ${r.target.ok ? `ok       pid ${r.target.pid}${r.target.note ? `; note: ${r.target.note}` : ''}` : `refuse   ${r.target.reason}`}`);
    for (const [name, c] of Object.entries(r.collectors)) console.log(`${name.padEnd(12)} ${c.decision.padEnd(8)} ${c.reason}`);
    for (const x of r.refusals.filter((x) => !x.startsWith('collectors.'))) console.log(`refused: ${x}`);
    console.log(r.ok ? '\nlabtel run would start this episode' : '\nlabtel run would refuse this episode');
  }
  return r.ok ? 0 : 1;
}
