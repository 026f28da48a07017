// The forwarder against a real nats-server: rows go as batches (consecutive
// rows of one source, the file's bytes, id <host>/<episode>/<source>/<first>-
// <last>) cut at source changes and under the server's max_payload; a file
// that fails stops no other; episode.json and summary.json go whatever
// happened to the rows; an interrupted forwarder resumes and the pulled rows
// are each there once; the accounting says what went and what remains.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { natsSinkConfig } from '../../../src/sinks/nats/config.js';
import { CURSOR_FILE, NatsForwarder } from '../../../src/sinks/nats/forwarder.js';
import { pull } from '../../../src/sinks/nats/pull.js';
import { hasNats } from '../../helpers/nats.js';
import { tmpDir } from '../../helpers/tmp.js';
import { fileRowsBySource, linesOf, readStream, row, rowsBySource, startNatsWithMaxPayload } from './forward-stream.js';
import { ID_NONCE_CHARS } from '../../../src/sinks/nats/subjects.js';

/** A message id ends in the episode's random nonce (subjects.ts): ids another host could guess let it have this host's messages dropped. */
const NONCE = `[A-Za-z0-9_-]{${ID_NONCE_CHARS}}`;
const withoutNonce = (id: string | undefined) => String(id).replace(new RegExp(`/${NONCE}$`), '');

const MAX_PAYLOAD = 65536;
const key = { prefix: 'labtel', host: 'lab-a', episode: 'ep' };

function forwarder(dir: string, url: string, opts: { batchBytes?: number } = {}): NatsForwarder {
  return new NatsForwarder(dir, natsSinkConfig.parse({ servers: [url], host: key.host }), key, opts);
}

/** `n` proc rows from seq `from`, each about 600 bytes. */
const procRows = (from: number, n: number) => Array.from({ length: n }, (_, i) => row('host_proc', from + i, { pad: 'p'.repeat(520) })).join('');

describe.skipIf(!hasNats())('the NATS forwarder', () => {
  // Regression for: each row was its own JetStream publish (about 22k rows/s at half a core per 10k rows/s).
  it('publishes batches cut at source changes and under max_payload, each the file\'s bytes with its seq range as id; a partial line waits', async () => {
    const nats = await startNatsWithMaxPayload(MAX_PAYLOAD);
    const dir = path.join(tmpDir(), 'ep');
    fs.mkdirSync(dir);
    // The qmp file interleaves two sources in runs of 3, 2, 1 and 4 rows; the proc file is ~1.8 MB of one source.
    const qmp = [row('qmp', 0), row('qmp', 1), row('qmp', 2), row('qmp_event', 0), row('qmp_event', 1), row('qmp', 3), row('qmp_event', 2), row('qmp_event', 3), row('qmp_event', 4), row('qmp_event', 5)].join('');
    fs.writeFileSync(path.join(dir, 'telemetry-qmp.jsonl'), qmp);
    const partial = row('host_proc', 3000);
    fs.writeFileSync(path.join(dir, 'telemetry-proc.jsonl'), procRows(0, 3000) + partial.slice(0, 40));
    const f = forwarder(dir, nats.url);
    try {
      expect(await f.pass(), f.progress.error ?? '').toBe(true);
      const limit = f.messageLimit();
      expect(limit).toBeLessThan(MAX_PAYLOAD);
      expect(limit).toBeGreaterThan(MAX_PAYLOAD - 1024);

      const msgs = await readStream(nats.url);
      expect(msgs.length).toBeGreaterThan(0);
      for (const m of msgs) {
        const source = m.subject.split('.')[3]!;
        expect(m.subject).toBe(`labtel.lab-a.ep.${source}`);
        const seqs = linesOf(m.data).map((l) => JSON.parse(l) as { source: string; seq: number });
        expect(seqs.length).toBeGreaterThan(0);
        for (const [i, r] of seqs.entries()) {
          expect(r.source).toBe(source);
          expect(r.seq).toBe(seqs[0]!.seq + i); // consecutive
        }
        expect(m.id).toMatch(new RegExp(`^lab-a/ep/${source}/${seqs[0]!.seq}-${seqs.at(-1)!.seq}/${NONCE}$`));
        expect(m.data.length).toBeLessThanOrEqual(limit);
      }
      // qmp: one message per run (cut where the source changes), each run exactly its bytes in the file.
      const qmpMsgs = msgs.filter((m) => m.subject.endsWith('.qmp') || m.subject.endsWith('.qmp_event'));
      expect(qmpMsgs.map((m) => withoutNonce(m.id))).toEqual(['lab-a/ep/qmp/0-2', 'lab-a/ep/qmp_event/0-1', 'lab-a/ep/qmp/3-3', 'lab-a/ep/qmp_event/2-5']);
      expect(Buffer.concat(qmpMsgs.map((m) => m.data)).toString()).toBe(qmp);
      // proc: cut at the bound, so as few messages as it allows (a message is at most `limit` bytes).
      const procMsgs = msgs.filter((m) => m.subject.endsWith('.host_proc'));
      const procBytes = procRows(0, 3000).length;
      expect(procMsgs.length).toBeGreaterThanOrEqual(Math.ceil(procBytes / limit));
      expect(procMsgs.length).toBeLessThanOrEqual(Math.ceil(procBytes / limit) + Math.ceil(procBytes / (4 << 20)) + 1);
      expect(Buffer.concat(procMsgs.map((m) => m.data)).toString()).toBe(procRows(0, 3000));
      // The partial last line was not sent: it waits, and goes once it is whole.
      expect(f.progress).toEqual({ published: 3010, skipped: 0, stubs: 0, corrupt: 0, error: null });
      fs.appendFileSync(path.join(dir, 'telemetry-proc.jsonl'), partial.slice(40));
      expect(await f.pass(), f.progress.error ?? '').toBe(true);
      const after = await readStream(nats.url);
      expect(after.length).toBe(msgs.length + 1);
      expect(withoutNonce(after.at(-1)!.id)).toBe('lab-a/ep/host_proc/3000-3000');
      expect(after.at(-1)!.data.toString()).toBe(partial);
      expect(f.accounting()).toEqual({
        by_source: { host_proc: { forwarded: 3001, stubs: 0, remaining: 0 }, qmp: { forwarded: 4, stubs: 0, remaining: 0 }, qmp_event: { forwarded: 6, stubs: 0, remaining: 0 } },
        files: { episode: false, summary: false },
        error: null,
      });
    } finally {
      await f.close();
    }
  });

  // Regression for: one file the forwarder could not read (or one line it could not parse) threw out of the pass,
  // so every file after it was never forwarded, and episode.json/summary.json were sent only after a pass succeeded;
  // a fifo planted at a rows file's name would have stopped the agent's main thread in open().
  it('a file that fails stops no other, a corrupt line is counted and passed, and the episode files go anyway', async () => {
    const nats = await startNatsWithMaxPayload(MAX_PAYLOAD);
    const root = tmpDir();
    const dir = path.join(root, 'ep');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(root, 'elsewhere.jsonl'), row('agent', 0));
    fs.symlinkSync(path.join(root, 'elsewhere.jsonl'), path.join(dir, 'telemetry-agent.jsonl')); // first in order
    fs.mkdirSync(path.join(dir, 'telemetry-guest_agent.jsonl')); // a directory where a rows file should be
    execFileSync('mkfifo', [path.join(dir, 'telemetry-netflow.jsonl')]); // a fifo: opening it for reading would wait forever
    fs.writeFileSync(path.join(dir, 'telemetry-proc.jsonl'), procRows(0, 50) + 'not a row at all\n' + procRows(50, 50));
    fs.writeFileSync(path.join(dir, 'episode.json'), '{"episode":"ep"}');
    fs.writeFileSync(path.join(dir, 'summary.json'), '{"status":"ok"}');
    const f = forwarder(dir, nats.url);
    try {
      expect(await f.pass()).toBe(false);
      expect(f.progress.error).toContain(`${path.join(dir, 'telemetry-agent.jsonl')} is a symlink; labtel does not read through one (ELOOP)`);
      expect(f.progress.error).toContain(`${path.join(dir, 'telemetry-guest_agent.jsonl')} is not a regular file; labtel reads only one`);
      expect(f.progress.error).toContain(`${path.join(dir, 'telemetry-netflow.jsonl')} is not a regular file; labtel reads only one`);
      expect(await f.forwardEpisodeFiles()).toBe(true);
      expect(f.progress).toMatchObject({ published: 100, corrupt: 1, stubs: 0 });
      const acc = f.accounting();
      expect(acc.by_source).toEqual({ host_proc: { forwarded: 100, stubs: 0, remaining: 0 } });
      expect(acc.files).toEqual({ episode: true, summary: true });
      expect(acc.error).toContain('telemetry-agent.jsonl is a symlink');
      expect(acc.error).toContain(`passed over 1 line(s) that are no labtel row, the first at byte ${procRows(0, 50).length} of telemetry-proc.jsonl`);
    } finally {
      await f.close();
    }
    const msgs = await readStream(nats.url);
    expect(msgs.filter((m) => m.subject.endsWith('._episode')).map((m) => m.data.toString())).toEqual(['{"episode":"ep"}']);
    expect(msgs.filter((m) => m.subject.endsWith('._summary')).map((m) => m.data.toString())).toEqual(['{"status":"ok"}']);
    expect(rowsBySource(msgs).get('host_proc')).toEqual(fileRowsBySource(dir).get('host_proc'));
    expect(rowsBySource(msgs).get('host_proc')!.length).toBe(100);
  });

  // Regression for: "exactly once" rested on one message id per row; with batches, a replay after a restart is
  // cut again (other ids), so the cursor, the duplicate window and pull together must keep each row once.
  it('interrupted (NATS killed mid-episode, the process killed before its cursor was saved) and resumed: pull has each row once', async () => {
    const nats = await startNatsWithMaxPayload(MAX_PAYLOAD);
    const dir = path.join(tmpDir(), 'ep');
    fs.mkdirSync(dir);
    const file = path.join(dir, 'telemetry-proc.jsonl');
    fs.writeFileSync(file, procRows(0, 500));
    fs.writeFileSync(path.join(dir, 'episode.json'), '{"episode":"ep"}');
    const first = forwarder(dir, nats.url);
    expect(await first.pass()).toBe(true);
    const cursorAt500 = fs.readFileSync(path.join(dir, CURSOR_FILE));
    // NATS goes down while rows keep coming: the pass fails, saying so, and the cursor stays where JetStream acknowledged.
    await nats.kill();
    fs.appendFileSync(file, procRows(500, 500));
    expect(await first.pass()).toBe(false);
    expect(first.progress.error).toMatch(/^publishing host_proc seq 500-\d+ of telemetry-proc\.jsonl: /);
    expect(JSON.parse(fs.readFileSync(path.join(dir, CURSOR_FILE), 'utf8')).acked).toEqual({ host_proc: 499 });
    await first.close();
    await nats.restart();
    // A restarted forwarder goes on from the cursor.
    const second = forwarder(dir, nats.url);
    expect(await second.pass()).toBe(true);
    expect(second.progress.published).toBe(500);
    await second.close();
    // The process killed before it saved its cursor: the next one re-sends from the older cursor, cut otherwise (other ids).
    fs.appendFileSync(file, procRows(1000, 200));
    fs.writeFileSync(path.join(dir, CURSOR_FILE), cursorAt500);
    const third = forwarder(dir, nats.url, { batchBytes: 20_000 });
    try {
      expect(await third.pass()).toBe(true);
      expect(await third.forwardEpisodeFiles()).toBe(true);
      expect(third.progress.published).toBe(700);
      expect(third.accounting().by_source).toEqual({ host_proc: { forwarded: 1200, stubs: 0, remaining: 0 } });
    } finally {
      await third.close();
    }
    const msgs = await readStream(nats.url);
    const stored = msgs.filter((m) => m.subject.endsWith('.host_proc')).reduce((n, m) => n + linesOf(m.data).length, 0);
    expect(stored).toBeGreaterThan(1200); // the replay is on the stream (re-cut, so not a duplicate id) ...
    expect(rowsBySource(msgs).get('host_proc')).toEqual(fileRowsBySource(dir).get('host_proc')); // ... and each row read once
    const out = tmpDir();
    const r = await pull({ servers: [nats.url], stream: 'LABTEL', out, durable: 'test' });
    expect(r.rows).toBe(1200);
    expect(fs.readFileSync(path.join(out, 'lab-a', 'ep', 'telemetry-proc.jsonl'), 'utf8')).toBe(fs.readFileSync(file, 'utf8'));
  });
});
