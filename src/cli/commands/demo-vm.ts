// `labtel demo --vm`: a tiny real guest booted and recorded with all six
// collectors (src/demo/vm-episode.ts), then its summary and verify verdict.
import path from 'node:path';
import { runVmEpisode } from '../../demo/vm-episode.js';
import { verifyEpisode } from '../../verify/verify-episode.js';
import { formatVerify } from './verify.js';

export async function demoVmCommand(opts: { outputDir?: string }): Promise<number> {
  if (process.getuid?.() !== 0) throw new Error('demo --vm makes a network namespace and a tap for the guest: run it as root');
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  const ac = new AbortController();
  const onSignal = () => ac.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let r;
  try {
    r = await runVmEpisode({ outputDir: opts.outputDir ?? path.join(process.cwd(), `labtel-demo-vm-${stamp}`), log: (l) => console.error(`labtel demo --vm: ${l}`), signal: ac.signal });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  process.stdout.write(r.stdout);
  const v = verifyEpisode(r.dir);
  console.log(`\nlabtel verify:\n${formatVerify(r.dir, v)}`);
  return v.verdict === 'ok' ? 0 : 1;
}
