// Two runs under one host and episode name (a rerun, or two lab directories
// called ep1): regression for: the second run's batches got the first run's
// message ids (dropped by JetStream as duplicates, yet counted as forwarded)
// and, past the duplicate window, pull skipped its rows as seqs it already
// had: the second run's rows were lost without a word. Each run now has its
// own run_id (episode.json), ending every message id, and pull gives a second
// run its own directory <episode>@<run_id>.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { natsSinkConfig } from '../../../src/sinks/nats/config.js';
import { NatsForwarder } from '../../../src/sinks/nats/forwarder.js';
import { pull } from '../../../src/sinks/nats/pull.js';
import { hasNats, startNats } from '../../helpers/nats.js';
import { tmpDir } from '../../helpers/tmp.js';
import { row } from './forward-stream.js';

/** An episode directory named ep1 with `n` proc rows whose pad says which run wrote them. */
function episode(runId: string, n: number, mark: string): string {
  const dir = path.join(tmpDir(), 'ep1');
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'episode.json'), JSON.stringify({ episode: 'ep1', run_id: runId }));
  fs.writeFileSync(path.join(dir, 'telemetry-proc.jsonl'), Array.from({ length: n }, (_, i) => row('host_proc', i, { run: mark })).join(''));
  return dir;
}

describe.skipIf(!hasNats())('two runs under one host and episode name', () => {
  it('are both forwarded and pulled, the second into <episode>@<run_id>, neither row lost or mixed', async () => {
    const nats = await startNats();
    const runs = [randomBytes(16).toString('base64url'), randomBytes(16).toString('base64url')];
    const dirs = [episode(runs[0]!, 30, 'first'), episode(runs[1]!, 50, 'second')];
    const cfg = natsSinkConfig.parse({ servers: [nats.url], host: 'lab-a' });
    for (const dir of dirs) {
      const f = new NatsForwarder(dir, cfg, { prefix: 'labtel', host: 'lab-a', episode: 'ep1' });
      expect(await f.pass(), f.progress.error ?? '').toBe(true);
      expect(await f.forwardEpisodeFiles(), f.progress.error ?? '').toBe(true);
      await f.close();
      expect(f.progress.published).toBe(dir === dirs[0] ? 30 : 50);
    }
    const out = tmpDir();
    const r = await pull({ servers: [nats.url], stream: 'LABTEL', out, durable: 'test' });
    expect(r.rows).toBe(80);
    expect(r.skipped).toBe(0);
    expect(r.episodes.sort()).toEqual(['lab-a/ep1', `lab-a/ep1@${runs[1]}`]);
    for (const [i, pulled] of [path.join(out, 'lab-a', 'ep1'), path.join(out, 'lab-a', `ep1@${runs[1]}`)].entries()) {
      expect(fs.readFileSync(path.join(pulled, 'telemetry-proc.jsonl'), 'utf8')).toBe(fs.readFileSync(path.join(dirs[i]!, 'telemetry-proc.jsonl'), 'utf8'));
      expect(JSON.parse(fs.readFileSync(path.join(pulled, 'episode.json'), 'utf8'))).toEqual({ episode: 'ep1', run_id: runs[i] });
    }
    // Pulled again by a new durable: the same directories, nothing written twice.
    const again = await pull({ servers: [nats.url], stream: 'LABTEL', out, durable: 'test2' });
    expect(again.rows).toBe(0);
    expect(again.skipped).toBe(80);
  });
});
