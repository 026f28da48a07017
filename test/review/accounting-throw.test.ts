// Review of issue 18 point 2: an episode with a NATS sink that ends by an
// error after forwarding started (here summary.json cannot be written: a
// file already holds its name) must still end the forwarding loop and close
// the connection, or the process never exits. Real nats-server.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/cli.js';
import { hasNats, startNats } from '../helpers/nats.js';
import { tmpDir } from '../helpers/tmp.js';

/** runEpisode in a process of its own, with summary.json planted once the episode is stopping; prints what runEpisode threw. */
const SCRIPT = `
import fs from 'node:fs';
import path from 'node:path';
import { runEpisode } from './src/agent/run-episode.ts';
import { parseManifest } from './src/manifest/load.ts';
const [url, dir] = process.argv.slice(-2);
const manifest = parseManifest({ output_dir: dir, episode: 'throws', duration_s: 1, target: { pid: process.pid }, collectors: { proc: { interval_ms: 20 } }, sinks: { nats: { servers: [url], host: 'lab-a' } } });
try {
  await runEpisode({ manifest, log: (l) => { if (l.startsWith('stopping')) fs.writeFileSync(path.join(dir, 'summary.json'), '{}'); } });
  console.log('runEpisode returned');
} catch (err) {
  console.log('runEpisode threw: ' + err.message);
}
`;

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

describe.skipIf(!hasNats())('an episode with a NATS sink that ends by an error', () => {
  // regression for: runEpisode threw (summary.json could not be written) after the last forwarding pass, and the NATS
  // connection, closed only by publishEpisodeFiles(), stayed open: the process never exited.
  it('summary.json cannot be written: runEpisode throws and the process exits (its NATS connection closed)', async () => {
    const nats = await startNats();
    const dir = path.join(tmpDir(), 'throws');
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', SCRIPT, nats.url, dir], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const end = await new Promise<{ code: number | null; signal: string | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    expect(out, err).toMatch(/runEpisode threw: cannot create .*summary\.json: it already exists/);
    expect(end, err).toEqual({ code: 0, signal: null });
  }, 60_000);
});
