// `labtel pull`: a durable JetStream consumer over the stream, materializing
// each host's episodes as directories laid out like local ones
// (<out>/<host>/<episode>/telemetry-*.jsonl, episode.json, summary.json), so
// labtel verify runs on them unchanged. Rows are written in seq order per
// source; a row already written (a redelivery) is skipped, so pulling twice
// writes each row once.
//
// What a publisher chooses is hostile input: the subject's host, episode and
// source become a directory and file names only when each is a plain token
// (never "..", a "/", or an empty name: nothing escapes <out>), and a row is
// written only when it is one JSON line with a seq. Anything else is counted
// in `rejected` by kind, acknowledged, and not written. Directories are 0750
// and files 0640, none created or written through a symlink.
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { AckPolicy, jetstream, jetstreamManager, type JsMsg } from '@nats-io/jetstream';
import { connectNats, type NatsEndpoint } from './connection.js';
import { makeDirNoFollow } from '../../util/safe-dir.js';
import { replaceFileNoFollow } from '../../util/safe-file.js';
import { openOwnNoFollow } from '../../util/write-refusal.js';
import { isNameToken } from './names.js';
import { FILE_OF_SOURCE } from './subjects.js';

export interface PullOptions extends NatsEndpoint {
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
  /** Messages not written, by why: `subject` (a host, episode or source that is no plain name), `not_a_row` (not one JSON line with a seq). */
  rejected: Record<'subject' | 'not_a_row', number>;
}

interface EpisodeState {
  dir: string;
  /** Per source, the last seq written (no prototype: a source named "constructor" is a name like any other). */
  written: Record<string, number>;
  /** written changed since it was saved. */
  dirty: boolean;
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
/** A row source (a file name part), or _episode / _summary. */
const SOURCE = /^_?[a-z][a-z0-9_]{0,127}$/;

/** Appends `data` to `file` (created 0640), never through a symlink, into a fifo (which would stop the pull) or a file not labtel's. */
function appendNoFollow(file: string, data: Uint8Array): void {
  const fd = openOwnNoFollow(file, 'append');
  try {
    fs.writeFileSync(fd, data);
  } finally {
    fs.closeSync(fd);
  }
}

/** The seq of a message that is one labtel row (one JSON line), or null. */
function rowSeq(data: Uint8Array): number | null {
  if (data.includes(10)) return null; // a second line would be a row the subject did not name
  try {
    const seq = (JSON.parse(Buffer.from(data).toString('utf8')) as { seq?: unknown } | null)?.seq;
    return Number.isSafeInteger(seq) && (seq as number) >= 0 ? (seq as number) : null;
  } catch {
    return null;
  }
}

export async function pull(o: PullOptions): Promise<PullResult> {
  const nc = await connectNats(o, { timeout: 5000 });
  const r: PullResult = { rows: 0, skipped: 0, episodes: [], rejected: { subject: 0, not_a_row: 0 } };
  const out = path.resolve(o.out);
  makeDirNoFollow(out, 'pull --out');
  const states = new Map<string, EpisodeState>();
  const state = (host: string, episode: string): EpisodeState => {
    const key = `${host}/${episode}`;
    let s = states.get(key);
    if (!s) {
      makeDirNoFollow(path.join(out, host), 'pulled host directory');
      const dir = path.join(out, host, episode);
      makeDirNoFollow(dir, 'pulled episode directory');
      const written: Record<string, number> = Object.create(null) as Record<string, number>;
      try {
        // O_NONBLOCK: a fifo there is read as empty, not waited on (and replaced by the first save); only a regular file is read.
        const fd = fs.openSync(path.join(dir, STATE), fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
        try {
          if (!fs.fstatSync(fd).isFile()) throw new Error('not a regular file');
          for (const [k, v] of Object.entries(JSON.parse(fs.readFileSync(fd, 'utf8')) as Record<string, unknown>)) if (Number.isSafeInteger(v)) written[k] = v as number;
        } finally {
          fs.closeSync(fd);
        }
      } catch {
        // new here
      }
      s = { dir, written, dirty: false };
      states.set(key, s);
      r.episodes.push(key);
    }
    return s;
  };
  // tmp + rename: a crash never leaves half a state, and a symlink there is replaced, never written through.
  const save = () => {
    for (const s of states.values()) {
      if (!s.dirty) continue;
      replaceFileNoFollow(path.join(s.dir, STATE), JSON.stringify(s.written));
      s.dirty = false;
    }
  };

  const take = (m: JsMsg) => {
    // <prefix...>.<host>.<episode>.<source>: the last three tokens, each a plain name or the message is not written.
    const t = m.subject.split('.');
    const [host, episode, source] = t.slice(-3) as [string, string, string];
    if (t.length < 4 || !isNameToken(host) || !isNameToken(episode) || !SOURCE.test(source)) {
      r.rejected.subject++;
      return;
    }
    const s = state(host, episode);
    if (source === '_episode' || source === '_summary') {
      replaceFileNoFollow(path.join(s.dir, `${source.slice(1)}.json`), m.data);
      return;
    }
    if (source.startsWith('_')) {
      r.rejected.subject++;
      return;
    }
    const seq = rowSeq(m.data);
    if (seq === null) {
      r.rejected.not_a_row++;
      return;
    }
    if (seq <= (s.written[source] ?? -1)) {
      r.skipped++;
      return;
    }
    const file = Object.hasOwn(FILE_OF_SOURCE, source) ? FILE_OF_SOURCE[source]! : source;
    appendNoFollow(path.join(s.dir, `telemetry-${file}.jsonl`), Buffer.concat([Buffer.from(m.data), Buffer.from('\n')]));
    s.written[source] = seq;
    s.dirty = true;
    r.rows++;
  };

  try {
    // A JetStream cluster that just lost a server answers nothing while it elects new leaders: retry for a while.
    const consumer = await retrying(async () => {
      const jsm = await jetstreamManager(nc);
      try {
        await jsm.consumers.info(o.stream, o.durable);
      } catch (err) {
        if (!/consumer not found/i.test((err as Error).message)) throw err;
        await jsm.consumers.add(o.stream, { durable_name: o.durable, ack_policy: AckPolicy.Explicit });
      }
      return jetstream(nc).consumers.get(o.stream, o.durable);
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
