// A publisher inventing episodes: labtel pull kept a state for every episode it
// had ever seen (and saved by walking all of them after every fetch), and
// listed every one in its result, so a follow pull's memory and per-fetch
// work grew without bound. States are now kept for the most recent episodes
// (the rest reloaded from their .pull-state.json when needed) and the result
// names the first EPISODES_KEPT.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { EPISODES_KEPT, STATES_KEPT, pull } from '../../src/sinks/nats/pull.js';
import { publish, startNats } from '../helpers/nats.js';
import { tmpDir } from '../helpers/tmp.js';

const row = (seq: number) => JSON.stringify({ source: 'host_proc', t_mono_ns: seq * 1000, seq, available_in_deployment: true });
const batch = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => `${row(from + i)}\n`).join('');

describe('labtel pull against invented episodes', () => {
  // regression for: the pull state map and the result's episode list grew by one entry per episode ever seen.
  it('more episodes than it keeps: the list is bounded, and an episode whose state was dropped still skips what it has', async () => {
    const n = Math.max(EPISODES_KEPT, STATES_KEPT) + 50;
    const msgs: Array<[string, string]> = [['labtel.lab.first.host_proc', batch(0, 1)]];
    for (let i = 0; i < n; i++) msgs.push([`labtel.lab.e${i}.host_proc`, batch(0, 0)]);
    msgs.push(['labtel.lab.first.host_proc', batch(0, 3)]); // re-cut after the forwarder restarted: 0-1 are there
    const nats = await startNats();
    await publish(nats.url, msgs);
    const out = path.join(tmpDir(), 'pulled');
    const r = await pull({ servers: [nats.url], stream: 'LABTEL', out, durable: 'test' });
    expect(r.rows).toBe(n + 4);
    expect(r.skipped).toBe(2);
    expect(r.episodes.length).toBe(EPISODES_KEPT);
    expect(r.episodes[0]).toBe('lab/first');
    expect(r.moreEpisodes).toBe(true);
    expect(fs.readdirSync(path.join(out, 'lab')).length).toBe(n + 1);
    expect(fs.readFileSync(path.join(out, 'lab', 'first', 'telemetry-proc.jsonl'), 'utf8')).toBe(batch(0, 3));
  });
});

