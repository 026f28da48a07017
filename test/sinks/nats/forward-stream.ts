// Helpers of the forwarder's tests: a nats-server with a small max_payload
// (from a config file, so a row "too large for a message" is cheap to make),
// episode directories of rows as the writer lays them out, and the stream
// read back message by message (subject, message id, bytes) without pull, so
// the tests hold the forwarder to the wire contract itself.
import fs from 'node:fs';
import path from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { startNatsWithConfig, type NatsServer } from '../../helpers/nats.js';

/** One JetStream nats-server whose max_payload is `maxPayload` (set in its config file). */
export function startNatsWithMaxPayload(maxPayload: number): Promise<NatsServer> {
  return startNatsWithConfig(`max_payload: ${maxPayload}\n`);
}

/** A row as the row writer lays it out: envelope first, then `fields`. */
export function row(source: string, seq: number, fields: Record<string, unknown> = {}): string {
  return `${JSON.stringify({ source, t_mono_ns: 1000 + seq, seq, available_in_deployment: true, ...fields })}\n`;
}

/** A row of exactly `bytes` bytes, newline included (padded with a `pad` field). */
export function rowOfSize(source: string, seq: number, bytes: number): string {
  const bare = row(source, seq, { pad: '' });
  if (bytes < bare.length) throw new Error(`a row of ${bytes} bytes is shorter than its envelope (${bare.length})`);
  return row(source, seq, { pad: 'x'.repeat(bytes - bare.length) });
}

export interface StreamMsg {
  seq: number;
  subject: string;
  id: string | undefined;
  data: Buffer;
}

/** Every message on the stream, in stream order. */
export async function readStream(url: string, stream = 'LABTEL'): Promise<StreamMsg[]> {
  const nc = await connect({ servers: [url] });
  try {
    const jsm = await jetstreamManager(nc);
    const { state } = await jsm.streams.info(stream);
    const out: StreamMsg[] = [];
    for (let seq = state.first_seq; seq <= state.last_seq && state.messages > 0; seq++) {
      const m = await jsm.streams.getMessage(stream, { seq });
      if (!m) continue;
      out.push({ seq, subject: m.subject, id: m.header?.get('Nats-Msg-Id'), data: Buffer.from(m.data) });
    }
    return out;
  } finally {
    await nc.drain();
  }
}

/** The lines of a message (each ended by "\n" in the data). */
export function linesOf(data: Buffer): string[] {
  const text = data.toString('utf8');
  if (!text.endsWith('\n')) throw new Error(`a message does not end with a newline: ${JSON.stringify(text.slice(-40))}`);
  return text.slice(0, -1).split('\n');
}

/**
 * Per source, the rows the stream holds as a puller keeps them: each batch
 * split into rows, a row kept only when its seq is past the last kept (what
 * pull does with a replay or a re-cut batch).
 */
export function rowsBySource(msgs: StreamMsg[], prefix = 'labtel'): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const last = new Map<string, number>();
  for (const m of msgs) {
    const source = m.subject.slice(prefix.length + 1).split('.')[2]!;
    if (source.startsWith('_')) continue;
    for (const l of linesOf(m.data)) {
      const seq = (JSON.parse(l) as { seq: number }).seq;
      if (seq <= (last.get(source) ?? -1)) continue;
      last.set(source, seq);
      if (!out.has(source)) out.set(source, []);
      out.get(source)!.push(l);
    }
  }
  return out;
}

/** Per source, the rows of an episode directory's telemetry files (lines whose head names the source). */
export function fileRowsBySource(dir: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const f of fs.readdirSync(dir).filter((x) => /^telemetry-.*\.jsonl$/.test(x)).sort()) {
    if (!fs.lstatSync(path.join(dir, f)).isFile()) continue; // a symlink or a directory planted there: not rows
    const text = fs.readFileSync(path.join(dir, f), 'utf8');
    for (const l of text.slice(0, text.lastIndexOf('\n') + 1).split('\n').slice(0, -1)) {
      const m = /^\{"source":"([a-z_]+)"/.exec(l);
      if (!m) continue;
      if (!out.has(m[1]!)) out.set(m[1]!, []);
      out.get(m[1]!)!.push(l);
    }
  }
  return out;
}
