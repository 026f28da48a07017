// `labtel pull`: a durable JetStream consumer over the stream, materializing
// each host's episodes as directories laid out like local ones
// (<out>/<host>/<episode>/telemetry-*.jsonl, episode.json, summary.json), so
// labtel verify runs on them unchanged. Rows are written in seq order per
// source; a row already written (a redelivery) is skipped, so pulling twice
// writes each row once.
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { AckPolicy, connect, type JsMsg } from 'nats';
import { FILE_OF_SOURCE } from './subjects.js';

export interface PullOptions {
  servers: string[];
  stream: string;
  out: string;
  durable: string;
  follow?: boolean;
  signal?: AbortSignal;
}

export interface PullResult {
  rows: number;
  skipped: number;
  episodes: string[];
}

interface EpisodeState {
  dir: string;
  /** Per source, the last seq written. */
  written: Record<string, number>;
}

const STATE = '.pull-state.json';
const RETRY_MS = 20_000;

async function retrying<T>(f: () => Promise<T>): Promise<T> {
  for (const end = Date.now() + RETRY_MS; ; await sleep(500)) {
    try {
      return await f();
    } catch (err) {
      if (Date.now() > end || !/TIMEOUT|503|no responders|leader/i.test(String((err as Error).message) + String((err as { code?: string }).code))) throw err;
    }
  }
}
const SAFE = /^[A-Za-z0-9_-]+$/;

export async function pull(o: PullOptions): Promise<PullResult> {
  const nc = await connect({ servers: o.servers, timeout: 5000 });
  const r: PullResult = { rows: 0, skipped: 0, episodes: [] };
  const states = new Map<string, EpisodeState>();
  const state = (host: string, episode: string): EpisodeState => {
    const key = `${host}/${episode}`;
    let s = states.get(key);
    if (!s) {
      const dir = path.join(o.out, host, episode);
      fs.mkdirSync(dir, { recursive: true });
      let written: Record<string, number> = {};
      try {
        written = JSON.parse(fs.readFileSync(path.join(dir, STATE), 'utf8')) as Record<string, number>;
      } catch {
        // new here
      }
      s = { dir, written };
      states.set(key, s);
      r.episodes.push(key);
    }
    return s;
  };
  const save = () => {
    for (const s of states.values()) fs.writeFileSync(path.join(s.dir, STATE), JSON.stringify(s.written));
  };

  const take = (m: JsMsg) => {
    // <prefix...>.<host>.<episode>.<source>: the last three tokens; subject tokens are already safe names.
    const t = m.subject.split('.');
    const [host, episode, source] = t.slice(-3) as [string, string, string];
    if (![host, episode, source].every((x) => SAFE.test(x))) return;
    const s = state(host, episode);
    if (source === '_episode' || source === '_summary') {
      fs.writeFileSync(path.join(s.dir, `${source.slice(1)}.json`), m.data);
      return;
    }
    const seq = Number((JSON.parse(Buffer.from(m.data).toString('utf8')) as { seq?: unknown }).seq);
    if (seq <= (s.written[source] ?? -1)) {
      r.skipped++;
      return;
    }
    const file = FILE_OF_SOURCE[source] ?? source;
    fs.appendFileSync(path.join(s.dir, `telemetry-${file}.jsonl`), Buffer.concat([Buffer.from(m.data), Buffer.from('\n')]));
    s.written[source] = seq;
    r.rows++;
  };

  try {
    // A JetStream cluster that just lost a server answers nothing while it elects new leaders: retry for a while.
    const consumer = await retrying(async () => {
      const jsm = await nc.jetstreamManager();
      try {
        await jsm.consumers.info(o.stream, o.durable);
      } catch (err) {
        if (!/consumer not found/i.test((err as Error).message)) throw err;
        await jsm.consumers.add(o.stream, { durable_name: o.durable, ack_policy: AckPolicy.Explicit });
      }
      return nc.jetstream().consumers.get(o.stream, o.durable);
    });
    for (;;) {
      if (o.signal?.aborted) break;
      const batch = await consumer.fetch({ max_messages: 1000, expires: 1000 });
      const done: JsMsg[] = [];
      for await (const m of batch) {
        take(m);
        done.push(m);
      }
      // Acknowledged once what they carried is on disk and remembered: a crash before redelivers, and the state skips them.
      save();
      for (const m of done) m.ack();
      const got = done.length;
      if (got === 0 && !o.follow && (await retrying(() => consumer.info())).num_pending === 0) break;
    }
  } finally {
    save();
    await nc.drain().catch(() => nc.close());
  }
  return r;
}
