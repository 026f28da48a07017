// `labtel demo`: one short episode against a workload labtel starts itself,
// with every collector this host supports, into a new folder here: proc and
// perf on the workload, and, where the programs are here, pcap and netflow
// on a test network with traffic, qmp on a paused QEMU, guest_agent on a
// qemu-guest-agent. It prints the summary, the verify verdict, and every
// collector it could not run with the reason.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { runEpisode } from '../../agent/run-episode.js';
import { probeCollectors } from '../../collectors/index.js';
import { startLabPeers } from '../../demo/lab-peers.js';
import { WORKLOAD_SOURCE } from '../../demo/workload.js';
import { parseManifest } from '../../manifest/load.js';
import { verifyEpisode } from '../../verify/verify-episode.js';
import { formatSummary } from '../print-summary.js';
import { formatVerify } from './verify.js';

/** The collectors the demo configures on the workload itself. */
const ON_WORKLOAD: Record<string, object> = {
  proc: { interval_ms: 100, threads: true },
  perf: { interval_ms: 200 },
};

function stamp(d = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

export async function demoCommand(opts: { duration: number; outputDir?: string }): Promise<number> {
  // A signal while the peers start must still remove them (the episode handles its own later).
  let interrupted = false;
  const onSignal = () => (interrupted = true);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const peers = await startLabPeers();
  const workload = spawn(process.execPath, ['-e', WORKLOAD_SOURCE], { stdio: 'ignore' });
  try {
    if (interrupted) return 130;
    const collectors: Record<string, object> = {};
    const notRun: string[] = [];
    const probes = await probeCollectors();
    for (const [name, a] of Object.entries(probes)) {
      if (ON_WORKLOAD[name] && a.available) collectors[name] = ON_WORKLOAD[name]!;
      else if (peers.collectors[name]) collectors[name] = peers.collectors[name]!;
      else notRun.push(`${name}: ${peers.notRun[name] ?? a.reason}`);
    }
    const manifest = parseManifest({
      episode: 'demo',
      output_dir: opts.outputDir ?? path.join(process.cwd(), `labtel-demo-${stamp()}`),
      duration_s: opts.duration,
      target: { pid: workload.pid },
      collectors,
    });
    console.error(`labtel demo: ${opts.duration} s episode against a workload (pid ${workload.pid}) with ${Object.keys(collectors).join(', ')}`);
    const { dir, summary } = await runEpisode({ manifest, handleSignals: true, log: (l) => console.error(`labtel: ${l}`) });
    console.log(formatSummary(dir, summary));
    for (const [name, c] of Object.entries(summary.collectors)) if (c.status === 'skipped') notRun.push(`${name}: ${c.reason}`);
    if (notRun.length) console.log(`\nnot run on this host:\n  ${notRun.join('\n  ')}`);
    console.log(`\nlabtel verify:\n${formatVerify(dir, verifyEpisode(dir))}`);
    return Object.values(summary.collectors).some((c) => c.status === 'failed') ? 1 : 0;
  } finally {
    workload.kill('SIGTERM');
    await peers.stop();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
