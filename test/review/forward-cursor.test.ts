// Review of the batched forwarder's cursor (forward-cursor.json), against a
// real nats-server: a cursor that is garbage, hostile or stale never stops a
// file for good, and never lets rows go unsent while the accounting says
// none remain.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { natsSinkConfig } from '../../src/sinks/nats/config.js';
import { CURSOR_FILE, NatsForwarder } from '../../src/sinks/nats/forwarder.js';
import { hasNats } from '../helpers/nats.js';
import { tmpDir } from '../helpers/tmp.js';
import { fileRowsBySource, readStream, row, rowsBySource, startNatsWithMaxPayload } from '../sinks/nats/forward-stream.js';

const key = { prefix: 'labtel', host: 'lab-a', episode: 'ep' };
const forwarder = (dir: string, url: string) => new NatsForwarder(dir, natsSinkConfig.parse({ servers: [url], host: key.host }), key);
const procRows = (from: number, n: number) => Array.from({ length: n }, (_, i) => row('host_proc', from + i)).join('');

function episode(cursor: string): string {
  const dir = path.join(tmpDir(), 'ep');
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'telemetry-proc.jsonl'), procRows(0, 20));
  fs.writeFileSync(path.join(dir, CURSOR_FILE), cursor);
  return dir;
}

describe.skipIf(!hasNats())('forwarder review: the cursor', () => {
  it('a cursor that is not JSON is a fresh start: every row goes', async () => {
    const nats = await startNatsWithMaxPayload(65536);
    const dir = episode('{"acked":{"host_proc":');
    const f = forwarder(dir, nats.url);
    try {
      expect(await f.pass(), f.progress.error ?? '').toBe(true);
    } finally {
      await f.close();
    }
    expect(rowsBySource(await readStream(nats.url)).get('host_proc')).toEqual(fileRowsBySource(dir).get('host_proc'));
  });

  // regression for: a negative offset in the cursor was passed to read(), which threw "position is out of range" at
  // every pass: the file was never forwarded again.
  it('a negative offset is no offset: the file goes from its start', async () => {
    const nats = await startNatsWithMaxPayload(65536);
    const dir = episode(JSON.stringify({ acked: {}, offsets: { 'telemetry-proc.jsonl': -5 }, files: {} }));
    const f = forwarder(dir, nats.url);
    try {
      expect(await f.pass(), f.progress.error ?? '').toBe(true);
      expect(f.accounting().by_source).toEqual({ host_proc: { forwarded: 20, stubs: 0, remaining: 0 } });
    } finally {
      await f.close();
    }
    expect(rowsBySource(await readStream(nats.url)).get('host_proc')).toEqual(fileRowsBySource(dir).get('host_proc'));
  });

  // regression for: a cursor whose offset is past the end of its file (the file cut or replaced since) made every
  // pass succeed having sent nothing, and the accounting said no row remained.
  it('an offset past the end of the file is named as an error, in the pass and in the accounting', async () => {
    const nats = await startNatsWithMaxPayload(65536);
    const dir = episode(JSON.stringify({ acked: { host_proc: 3 }, offsets: { 'telemetry-proc.jsonl': 1_000_000 }, files: {} }));
    const size = fs.statSync(path.join(dir, 'telemetry-proc.jsonl')).size;
    const f = forwarder(dir, nats.url);
    try {
      expect(await f.pass()).toBe(false);
      const why = `telemetry-proc.jsonl is ${size} bytes, shorter than the 1000000 the forwarder's cursor (${CURSOR_FILE}) has as done`;
      expect(f.progress.error).toContain(why);
      expect(f.accounting().error).toContain(why);
    } finally {
      await f.close();
    }
  });
});
