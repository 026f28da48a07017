// `labtel check <manifest>`: what `labtel run` would decide, without running:
// the manifest, the target, and each selected collector's preflight on this
// host (the same decideCollectors() that run uses). Exit 0 when the run
// would start, 1 when it would be refused. For a libvirt domain, what was
// resolved and from where: the domain, its pidfile and the uuid check, its
// vCPU threads, taps and channels, and each config value it filled.
import { decideCollectors } from '../../agent/run-episode.js';
import { resolveTarget } from '../../agent/target.js';
import { loadManifest } from '../../manifest/load.js';
import { KNOWN_COLLECTORS } from '../../manifest/schema.js';
import type { ResolvedLibvirt } from '../../collectors/types.js';
import type { FilledValue } from '../../libvirt/fill-configs.js';
import { isSessionUri } from '../../libvirt/ref.js';

export interface CheckReport {
  ok: boolean;
  /** note: why the target's vCPU threads are not named from collectors.qmp.socket (another process's, or refused), when so. */
  target: {
    ok: boolean;
    pid: number | null;
    reason: string | null;
    note?: string;
    /** A libvirt_domain target: the domain as resolved (its pidfile, uuid, interfaces, channels). */
    libvirt?: ResolvedLibvirt;
    exe?: string | null;
    vcpu_threads?: Record<string, number>;
    io_threads?: Record<string, string>;
  };
  /** What a libvirt domain filled in of the collectors' configs, and from where. */
  filled?: FilledValue[];
  collectors: Record<string, { decision: 'run' | 'skip' | 'refuse'; optional: boolean; reason: string }>;
  refusals: string[];
}

export async function checkManifest(file: string): Promise<CheckReport> {
  const m = loadManifest(file);
  const plan = await decideCollectors(m);
  const report: CheckReport = { ok: false, target: { ok: true, pid: null, reason: null }, collectors: {}, refusals: plan.refusals };
  if (plan.filled.length) report.filled = plan.filled;
  for (const name of KNOWN_COLLECTORS) {
    const c = plan.collectors[name];
    if (!c || !c.enabled) continue;
    const decision = plan.run.some((x) => x.name === name) ? 'run' : plan.skipped[name] ? 'skip' : 'refuse';
    report.collectors[name] = { decision, optional: c.optional, reason: plan.probes[name]!.reason };
  }
  try {
    // As run resolves it: checked against the qmp collector's socket when that collector runs.
    const qmp = plan.collectors.qmp;
    const t = await resolveTarget(m.target, { qmpSocket: qmp?.enabled && plan.run.some((p) => p.name === 'qmp') ? qmp.socket : undefined, domain: plan.domain });
    report.target.pid = t.pid;
    if (t.vcpu_note) report.target.note = t.vcpu_note;
    if (t.libvirt) Object.assign(report.target, { libvirt: t.libvirt, exe: t.exe, vcpu_threads: t.vcpu_threads, io_threads: t.io_threads });
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
    for (const line of resolvedLines(r)) console.log(`  ${line}`);
    for (const [name, c] of Object.entries(r.collectors)) console.log(`${name.padEnd(12)} ${c.decision.padEnd(8)} ${c.reason}`);
    for (const x of r.refusals.filter((x) => !x.startsWith('collectors.'))) console.log(`refused: ${x}`);
    console.log(r.ok ? '\nlabtel run would start this episode' : '\nlabtel run would refuse this episode');
  }
  return r.ok ? 0 : 1;
}

const threadList = (m: Record<string, number | string> | undefined, what: string): string =>
  Object.entries(m ?? {})
    .map(([tid, v]) => `${tid} (${what} ${v})`)
    .join(', ') || 'none';

/** What a libvirt domain target resolved to, and from where: one line each. */
function resolvedLines(r: CheckReport): string[] {
  const l = r.target.libvirt;
  const out: string[] = [];
  if (l) {
    out.push(`domain       ${JSON.stringify(l.domain)} on ${l.uri}: running (id ${l.id}), uuid ${l.uuid} (virsh dumpxml)`);
    // (domain-pid.ts: the system libvirtd's pidfile must be root's, a session's labtel's own user's)
    const owner = isSessionUri(l.uri) ? "labtel's user's, as a session's is" : "root's";
    out.push(`pid          ${r.target.pid} from libvirt's pidfile ${l.pidfile} (${owner}); its command line's -uuid matched the domain's; executable ${r.target.exe}`);
    out.push(`vCPU threads ${threadList(r.target.vcpu_threads, 'vCPU')} (query-cpus-fast through libvirt; each the pid's own)`);
    if (Object.keys(r.target.io_threads ?? {}).length) out.push(`iothreads    ${threadList(r.target.io_threads, 'iothread')}`);
    for (const i of l.interfaces) out.push(`interface    ${i.dev ?? '(no host device)'} (type ${i.type ?? '?'}, mac ${i.mac ?? '?'}${i.bridge ? `, bridge ${i.bridge}` : ''})`);
    if (!l.interfaces.length) out.push('interface    none');
    for (const c of l.channels) out.push(`channel      ${c.name ?? '(unnamed)'}: ${c.type ?? '?'}${c.mode ? ` ${c.mode}` : ''}${c.path ? ` ${c.path}` : ''}${c.state ? ` (guest end ${c.state})` : ''}`);
    if (!l.channels.length) out.push('channel      none');
  }
  for (const f of r.filled ?? []) out.push(`filled       ${f.key} = ${JSON.stringify(f.value)} from ${f.source}`);
  return out;
}
