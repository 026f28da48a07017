// `labtel demo`: one short episode against a workload labtel starts itself,
// with every collector this host supports, into a new folder here.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { runEpisode } from '../../agent/run-episode.js';
import { probeCollectors } from '../../collectors/index.js';
import { parseManifest } from '../../manifest/load.js';
import { WORKLOAD_SOURCE } from '../../demo/workload.js';
import { formatSummary } from '../print-summary.js';

/** The collectors the demo can configure on its own, with their demo settings. */
const DEMO_CONFIG: Record<string, object> = {
  proc: { interval_ms: 100, threads: true },
  perf: { interval_ms: 200 },
};

function stamp(d = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

export async function demoCommand(opts: { duration: number; outputDir?: string }): Promise<number> {
  const collectors: Record<string, object> = {};
  const notRun: string[] = [];
  for (const [name, a] of Object.entries(await probeCollectors())) {
    if (a.available && DEMO_CONFIG[name]) collectors[name] = DEMO_CONFIG[name]!;
    else notRun.push(`${name}: ${a.available ? 'needs settings the demo cannot invent' : a.reason}`);
  }
  const workload = spawn(process.execPath, ['-e', WORKLOAD_SOURCE], { stdio: 'ignore' });
  try {
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
    if (notRun.length) console.log(`\nnot run on this host:\n  ${notRun.join('\n  ')}`);
    return Object.values(summary.collectors).some((c) => c.status === 'failed') ? 1 : 0;
  } finally {
    workload.kill('SIGTERM');
  }
}
