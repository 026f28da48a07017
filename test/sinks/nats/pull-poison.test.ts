// A hostile publisher against labtel pull (a real nats-server, a real NATS
// client publishing what an attacker would): every message that is not what
// the wire contract says is set aside (terminated, counted by kind, reported
// with its subject), the good messages around it are written, and no pull,
// old durable or new, crashes on it or gets it again.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { pull } from '../../../src/sinks/nats/pull.js';
import { setAsideLines } from '../../../src/cli/commands/nats.js';
import { publish, startNats } from '../../helpers/nats.js';
import { readJsonl, tmpDir } from '../../helpers/tmp.js';

const row = (seq: number, source = 'host_proc') => JSON.stringify({ source, t_mono_ns: seq * 1000, seq, available_in_deployment: true });
/** A batch as the forwarder sends it: consecutive rows of one source, each line ending in "\n". */
const batch = (from: number, to: number, source = 'host_proc') => Array.from({ length: to - from + 1 }, (_, i) => `${row(from + i, source)}\n`).join('');
const GOOD_SUMMARY = JSON.stringify({ episode: 'ep', good: true });
const HIJACK = JSON.stringify({ episode: 'ep', hijacked: true });
/** Under the server's 1 MiB max_payload with room for the headers. */
const GARBAGE = 'x'.repeat((1 << 20) - 4096);

function treeBytes(dir: string): number {
  let n = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    n += e.isDirectory() ? treeBytes(p) : fs.statSync(p).size;
  }
  return n;
}

describe('labtel pull against a hostile publisher', () => {
  // regression for: "a message on a subject with an extra token overwrote another host's summary.json": pull took
  // the last three tokens of any subject, so labtel.evil.lab.ep._summary was lab's episode ep.
  it("a subject with an extra token is set aside, and another host's summary.json stays as its host sent it", async () => {
    const nats = await startNats();
    await publish(nats.url, [
      ['labtel.lab.ep._summary', GOOD_SUMMARY],
      ['labtel.evil.lab.ep._summary', HIJACK],
      ['labtel.evil.lab.ep.host_proc', batch(0, 3)],
      ['labtel.lab.ep.host_proc', batch(0, 1)],
    ]);
    const out = path.join(tmpDir(), 'pulled');
    const r = await pull({ servers: [nats.url], stream: 'LABTEL', out, durable: 'test' });
    expect(fs.readFileSync(path.join(out, 'lab', 'ep', 'summary.json'), 'utf8')).toBe(GOOD_SUMMARY);
    expect(fs.readFileSync(path.join(out, 'lab', 'ep', 'telemetry-proc.jsonl'), 'utf8')).toBe(batch(0, 1));
    expect(r.rejected.subject).toBe(2);
    expect(r.setAside.subject).toEqual([
      { subject: 'labtel.evil.lab.ep._summary', why: '5 tokens where 4 (labtel.<host>.<episode>.<source>) were due' },
      { subject: 'labtel.evil.lab.ep.host_proc', why: '5 tokens where 4 (labtel.<host>.<episode>.<source>) were due' },
    ]);
    // What `labtel pull` prints: the kind, the count, and each subject with why.
    expect(setAsideLines(r)).toEqual([
      'labtel: set aside 2 messages with a subject that is not <prefix>.<host>.<episode>.<source> with plain names (subject), not written and not redelivered:',
      '  labtel.evil.lab.ep._summary: 5 tokens where 4 (labtel.<host>.<episode>.<source>) were due',
      '  labtel.evil.lab.ep.host_proc: 5 tokens where 4 (labtel.<host>.<episode>.<source>) were due',
    ]);
  });

  // regression for: a message whose handling threw (here EISDIR: a directory where its summary.json goes) stopped the
  // pull before anything was acknowledged, so it came back first at every pull, and to every new durable: one message
  // stopped pulling for good.
  it('a message whose write throws (a directory at its file) is set aside with the error; the pull goes on and a new durable is not stopped by it', async () => {
    const nats = await startNats();
    const out = path.join(tmpDir(), 'pulled');
    fs.mkdirSync(path.join(out, 'lab', 'ep', 'summary.json'), { recursive: true });
    await publish(nats.url, [
      ['labtel.lab.ep._summary', GOOD_SUMMARY],
      ['labtel.lab.ep.host_proc', batch(0, 1)],
    ]);
    const r = await pull({ servers: [nats.url], stream: 'LABTEL', out, durable: 'one' });
    expect(r.rows).toBe(2);
    expect(r.rejected.unwritable).toBe(1);
    expect(r.setAside.unwritable).toEqual([{ subject: 'labtel.lab.ep._summary', why: `${path.join(out, 'lab', 'ep', 'summary.json')} is not a regular file` }]);
    // No temporary file left beside it.
    expect(fs.readdirSync(path.join(out, 'lab', 'ep')).sort()).toEqual(['.pull-state.json', 'summary.json', 'telemetry-proc.jsonl']);
    const two = await pull({ servers: [nats.url], stream: 'LABTEL', out, durable: 'two' });
    expect(two).toMatchObject({ rows: 0, skipped: 2 });
    expect(two.rejected.unwritable).toBe(1);
  });

  // regression for: episode.json and summary.json were written as they came, so a publisher's garbage became the
  // pulled episode's summary.json (verify then read "no summary.json") or episode.json (verify: not an episode).
  it('an episode.json or summary.json that is not one JSON object is set aside, not written', async () => {
    const nats = await startNats();
    await publish(nats.url, [
      ['labtel.lab.ep._episode', '{"episode":"ep"}'],
      ['labtel.lab.ep._summary', GOOD_SUMMARY],
      ['labtel.lab.ep._episode', 'not json'],
      ['labtel.lab.ep._summary', '[1,2,3]'],
    ]);
    const out = path.join(tmpDir(), 'pulled');
    const r = await pull({ servers: [nats.url], stream: 'LABTEL', out, durable: 'test' });
    expect(fs.readFileSync(path.join(out, 'lab', 'ep', 'episode.json'), 'utf8')).toBe('{"episode":"ep"}');
    expect(fs.readFileSync(path.join(out, 'lab', 'ep', 'summary.json'), 'utf8')).toBe(GOOD_SUMMARY);
    expect(r.rejected.not_an_object).toBe(2);
    expect(r.setAside.not_an_object?.map((e) => e.why)).toEqual([
      'episode.json: not JSON (Unexpected token \'o\', "not json" is not valid JSON)',
      'summary.json: not a JSON object (an array)',
    ]);
  });

  // regression for: "a message on a subject with an extra token overwrote another host's summary.json" (pull took
  // the last three tokens of any subject), and a message that threw while being written (a directory where its file
  // goes) stopped the pull before any acknowledgement, so every pull, and every new durable, met it again first.
  it('each poison kind is set aside, counted and reported with its subject; the good rows are written once; no redelivery; a new durable survives it too', async () => {
    const nats = await startNats();
    const out = path.join(tmpDir(), 'pulled');
    // A directory where a pulled file goes (as if an earlier name had made one): writing there throws EISDIR.
    fs.mkdirSync(path.join(out, 'lab', 'dir', 'telemetry-proc.jsonl'), { recursive: true });
    fs.mkdirSync(path.join(out, 'lab', 'dir', 'summary.json'), { recursive: true });
    const poison: Array<[string, string, string]> = [
      ['not_a_row', 'labtel.lab.ep.host_proc', 'not json'],
      ['not_a_row', 'labtel.lab.ep.host_perf', GARBAGE],
      ['wrong_source', 'labtel.lab.ep.host_perf', batch(0, 2)],
      ['subject', 'labtel.evil.lab.ep._summary', HIJACK],
      ['subject', 'labtel.evil.lab.ep.host_proc', batch(100, 101)],
      ['subject', 'labtel.lab.host_proc', batch(0, 0)],
      ['subject', 'labtel.a%zz.ep.host_proc', batch(0, 0)],
      ['seq_order', 'labtel.lab.ep.host_proc', `${row(20)}\n${row(19)}\n`],
      ['not_an_object', 'labtel.lab.ep._summary', '[1,2,3]'],
      ['not_an_object', 'labtel.lab.ep._episode', 'not json'],
      ['unwritable', 'labtel.lab.dir.host_proc', batch(0, 1)],
      ['unwritable', 'labtel.lab.dir._summary', GOOD_SUMMARY],
    ];
    await publish(nats.url, [
      ['labtel.lab.ep._summary', GOOD_SUMMARY],
      ['labtel.lab.ep.host_proc', batch(0, 9)],
      ...poison.map(([, s, d]) => [s, d] as [string, string]),
      // Re-cut after a forwarder restart: rows 5-9 again, then new ones; then one row of the old per-row format.
      ['labtel.lab.ep.host_proc', batch(5, 14)],
      ['labtel.lab.ep.host_proc', row(15)],
    ]);
    const rss0 = process.memoryUsage().rss;
    const r = await pull({ servers: [nats.url], stream: 'LABTEL', out, durable: 'test' });
    const rssGrowth = process.memoryUsage().rss - rss0;

    // Collecting went on: the good rows after every poison message are there, each once, in order.
    const rows = readJsonl(path.join(out, 'lab', 'ep', 'telemetry-proc.jsonl'));
    expect(rows.map((x) => x.seq)).toEqual(Array.from({ length: 16 }, (_, i) => i));
    expect(fs.readFileSync(path.join(out, 'lab', 'ep', 'telemetry-proc.jsonl'), 'utf8')).toBe(batch(0, 15));
    expect(fs.readFileSync(path.join(out, 'lab', 'ep', 'summary.json'), 'utf8')).toBe(GOOD_SUMMARY);
    expect(r.rows).toBe(16);
    expect(r.skipped).toBe(5);
    // Counted by kind, each reported with its subject and why.
    const want: Record<string, number> = { subject: 0, not_a_row: 0, wrong_source: 0, seq_order: 0, not_an_object: 0, unwritable: 0 };
    for (const [kind] of poison) want[kind]!++;
    expect(r.rejected).toEqual(want);
    expect(poison.length).toBeGreaterThan(0);
    for (const [kind, subject] of poison) expect(r.setAside[kind as keyof typeof r.setAside]?.map((e) => e.subject), kind).toContain(subject);
    expect(r.setAside.unwritable?.map((e) => e.why).join('\n')).toMatch(/EISDIR|not a regular file/);
    expect(r.setAside.subject?.find((e) => e.subject === 'labtel.evil.lab.ep._summary')?.why).toBe('5 tokens where 4 (labtel.<host>.<episode>.<source>) were due');
    expect(r.setAside.wrong_source?.[0]?.why).toBe('line 1 is a "host_proc" row on the subject of source host_perf');
    // Disk: only the good rows, summary and state, no trace of the 1 MiB message or of the other host; memory bounded by the fetch.
    expect(fs.readdirSync(out).sort()).toEqual(['lab']);
    expect(fs.readdirSync(path.join(out, 'lab', 'ep')).sort()).toEqual(['.pull-state.json', 'summary.json', 'telemetry-proc.jsonl']);
    expect(treeBytes(out)).toBeLessThan(16 << 10);
    expect(rssGrowth, `RSS grew ${rssGrowth} bytes`).toBeLessThan(64 << 20);

    // Terminated: the same durable gets none of them again.
    const again = await pull({ servers: [nats.url], stream: 'LABTEL', out, durable: 'test' });
    expect(again.rows).toBe(0);
    expect(Object.values(again.rejected).reduce((a, b) => a + b, 0)).toBe(0);
    // A new durable meets them all, sets them aside again, and writes nothing twice.
    const other = await pull({ servers: [nats.url], stream: 'LABTEL', out, durable: 'other' });
    expect(other.rejected).toEqual(want);
    expect(other.rows).toBe(0);
    expect(fs.readFileSync(path.join(out, 'lab', 'ep', 'telemetry-proc.jsonl'), 'utf8')).toBe(batch(0, 15));
  });

  it('batches re-cut differently (rows 0-9, then 5-14) give rows 0-14 once each; a redelivered batch is skipped', async () => {
    // regression for: pull knew one row per message and skipped a message by its one seq, so a batch was one row.
    const nats = await startNats();
    await publish(nats.url, [
      ['labtel.lab.ep.qmp', batch(0, 9, 'qmp')],
      ['labtel.lab.ep.qmp_event', batch(0, 1, 'qmp_event')],
      ['labtel.lab.ep.qmp', batch(5, 14, 'qmp')],
      ['labtel.lab.ep.qmp', batch(0, 14, 'qmp')],
    ]);
    const out = path.join(tmpDir(), 'pulled');
    const r = await pull({ servers: [nats.url], stream: 'LABTEL', out, durable: 'test' });
    expect(r.rows).toBe(17);
    expect(r.skipped).toBe(20);
    const rows = readJsonl(path.join(out, 'lab', 'ep', 'telemetry-qmp.jsonl'));
    expect(rows.filter((x) => x.source === 'qmp').map((x) => x.seq)).toEqual(Array.from({ length: 15 }, (_, i) => i));
    expect(rows.filter((x) => x.source === 'qmp_event').map((x) => x.seq)).toEqual([0, 1]);
  });
});
