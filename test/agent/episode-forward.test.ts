// The agent's end of an episode with a NATS sink: summary.json and the
// agent's output say, per source, what was forwarded and what remains for
// `labtel forward`, and episode.json and summary.json are sent whatever
// happened to the rows. Real nats-server on loopback.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runEpisode } from '../../src/agent/run-episode.js';
import { forwardingSummary, type EpisodeSummary } from '../../src/agent/summary.js';
import { formatSummary } from '../../src/cli/print-summary.js';
import { parseManifest } from '../../src/manifest/load.js';
import { NatsForwarder } from '../../src/sinks/nats/forwarder.js';
import { natsSinkConfig } from '../../src/sinks/nats/config.js';
import { pull } from '../../src/sinks/nats/pull.js';
import { expectAccounted, hasNats, linesBySource, startNats } from '../helpers/nats.js';
import { abortWhenLines, tmpDir } from '../helpers/tmp.js';

const untilLines = (file: string, n: number) =>
  new Promise((resolve) => abortWhenLines(file, n).addEventListener('abort', resolve, { once: true }));

function episode(servers: string[], name: string) {
  const dir = path.join(tmpDir(), name);
  const stop = new AbortController();
  const log: string[] = [];
  const manifest = parseManifest({
    output_dir: dir,
    episode: name,
    target: { pid: process.pid },
    collectors: { proc: { interval_ms: 20 } },
    sinks: { nats: { servers, host: 'lab-f' } },
  });
  return { dir, stop, log, done: runEpisode({ manifest, stop: stop.signal, log: (l) => log.push(l) }) };
}

describe.skipIf(!hasNats())('the agent forwarding the end of an episode', () => {
  // regression for: NATS gone when the episode ended: the agent gave up after its bounded wait, printed one line without
  // numbers, and summary.json said nothing of the rows that never reached the stream.
  it('NATS down at the end: summary.json and the output count every row as forwarded or remaining, and labtel forward sends the rest', async () => {
    const nats = await startNats();
    const e = episode([nats.url], 'fw1');
    const proc = path.join(e.dir, 'telemetry-proc.jsonl');
    await untilLines(proc, 30);
    await nats.kill();
    const before = fs.readFileSync(proc, 'utf8').split('\n').length - 1;
    await untilLines(proc, before + 30); // rows written while NATS is down: they cannot be forwarded
    e.stop.abort();
    const { summary } = await e.done;

    const nats1 = summary.forwarding?.nats;
    expect(nats1, 'summary has a forwarding.nats section').toBeDefined();
    expect(nats1!.complete).toBe(false);
    expect(nats1!.error).toEqual(expect.any(String));
    expect(nats1!.by_source.host_proc!.remaining).toBeGreaterThanOrEqual(30);
    const onDisk = JSON.parse(fs.readFileSync(path.join(e.dir, 'summary.json'), 'utf8')) as EpisodeSummary;
    expect(onDisk.forwarding).toEqual(summary.forwarding);
    const rows = linesBySource(e.dir);
    expect(rows.size).toBeGreaterThanOrEqual(2); // host_proc and agent
    for (const [source, lines] of rows) {
      const acc = nats1!.by_source[source];
      expect(acc, `${source} is accounted for`).toBeDefined();
      expect(acc!.forwarded + acc!.remaining, source).toBe(lines.length);
    }
    // The agent's output and the printed summary say what remains and how to send it.
    expect(e.log.join('\n')).toMatch(new RegExp(`nats: forwarded to LABTEL: [^;]*; remaining: .*host_proc ${nats1!.by_source.host_proc!.remaining}\\b.*labtel forward ${e.dir}`));
    expect(formatSummary(e.dir, summary)).toMatch(new RegExp(`forwarding: nats: INCOMPLETE, \\d+ rows forwarded to LABTEL[^;]*; remaining: .*${nats1!.by_source.host_proc!.remaining} host_proc.*run: labtel forward ${e.dir}`));

    // NATS back: labtel forward sends what remained; pulled rows + remaining was every row, now all of them are there.
    await nats.restart();
    const f = new NatsForwarder(e.dir, natsSinkConfig.parse({ servers: [nats.url], host: 'lab-f' }), { prefix: 'labtel', host: 'lab-f', episode: 'fw1' });
    try {
      expect(await f.pass()).toBe(true);
      expect(await f.forwardEpisodeFiles()).toBe(true);
    } finally {
      await f.close();
    }
    const out = tmpDir();
    await pull({ servers: [nats.url], stream: 'LABTEL', out, durable: 'test' });
    const pulled = path.join(out, 'lab-f', 'fw1');
    for (const f of ['telemetry-proc.jsonl', 'telemetry-agent.jsonl']) expect(fs.readFileSync(path.join(pulled, f), 'utf8'), f).toBe(fs.readFileSync(path.join(e.dir, f), 'utf8'));
    expect(JSON.parse(fs.readFileSync(path.join(pulled, 'summary.json'), 'utf8'))).toEqual(onDisk);
  }, 120_000);

  it('NATS up throughout: summary.json says complete, every row forwarded, and the pull holds exactly the files', async () => {
    const nats = await startNats();
    const e = episode([nats.url], 'fw2');
    await untilLines(path.join(e.dir, 'telemetry-proc.jsonl'), 40);
    e.stop.abort();
    const { summary } = await e.done;
    expect(summary.forwarding?.nats).toMatchObject({ stream: 'LABTEL', complete: true, error: null });
    expect(forwardingSummary.parse(summary.forwarding)).toEqual(summary.forwarding); // the zod schema is what summary.json holds, no key more
    const out = tmpDir();
    await pull({ servers: [nats.url], stream: 'LABTEL', out, durable: 'test' });
    expectAccounted(e.dir, path.join(out, 'lab-f', 'fw2'));
    const bySource = Object.entries(summary.forwarding!.nats!.by_source);
    expect(bySource.length).toBeGreaterThan(0);
    for (const [source, acc] of bySource) expect(acc.remaining, source).toBe(0);
    expect(formatSummary(e.dir, summary)).toMatch(/forwarding: nats: complete, \d+ rows forwarded to LABTEL \(agent \d+, host_cgroup \d+, host_proc \d+\)/);
    expect(e.log.join('\n')).toMatch(/nats: every row forwarded to LABTEL \(agent \d+, host_cgroup \d+, host_proc \d+\)/);
  }, 120_000);

  // regression for: the agent sent summary.json only after a pass over the rows succeeded, so a file it could not
  // forward kept the episode's summary.json from every puller.
  it('a row file the forwarder cannot read: episode.json and summary.json are still sent, and summary.json names the failure', async () => {
    const nats = await startNats();
    const e = episode([nats.url], 'fw3');
    await untilLines(path.join(e.dir, 'telemetry-proc.jsonl'), 20);
    // What a hostile local user could plant: a symlink under a row file's name (never read through).
    fs.symlinkSync(path.join(tmpDir(), 'elsewhere.jsonl'), path.join(e.dir, 'telemetry-zz.jsonl'));
    await untilLines(path.join(e.dir, 'telemetry-proc.jsonl'), 40);
    e.stop.abort();
    const { summary } = await e.done;
    const out = tmpDir();
    await pull({ servers: [nats.url], stream: 'LABTEL', out, durable: 'test' });
    const pulled = path.join(out, 'lab-f', 'fw3');
    expect(fs.existsSync(path.join(pulled, 'summary.json')), 'summary.json pulled').toBe(true);
    expect(JSON.parse(fs.readFileSync(path.join(pulled, 'summary.json'), 'utf8'))).toEqual(JSON.parse(fs.readFileSync(path.join(e.dir, 'summary.json'), 'utf8')));
    expect(JSON.parse(fs.readFileSync(path.join(pulled, 'episode.json'), 'utf8')).episode).toBe('fw3');
    // It says which file was not forwarded; the other files' rows were (no row blocks another).
    const n = summary.forwarding?.nats;
    expect(n?.complete).toBe(false);
    expect(n?.error).toMatch(/telemetry-zz\.jsonl/);
    expect(n?.by_source.host_proc?.remaining).toBe(0);
    expect(fs.readFileSync(path.join(pulled, 'telemetry-proc.jsonl'), 'utf8')).toBe(fs.readFileSync(path.join(e.dir, 'telemetry-proc.jsonl'), 'utf8'));
  }, 120_000);
});
