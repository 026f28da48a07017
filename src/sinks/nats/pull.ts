// `labtel pull`: a durable JetStream consumer over the stream, materializing
// each host's episodes as directories laid out like local ones
// (<out>/<host>/<episode>/telemetry-*.jsonl, episode.json, summary.json), so
// labtel verify runs on them unchanged. A row message is a batch (pull-batch.ts):
// rows of one source with increasing seqs. Rows are written in seq order per
// source; a row already written (a redelivery, or a batch re-cut after the
// forwarder restarted) is skipped, so pulling twice writes each row once.
// Bounds: a fetch holds at most 100 messages and fetchBytes() bytes (8 MiB, or
// one of the server's max_payload and 64 KiB if larger), and at most two fetches are in
// memory (the next arrives while this one's rows are written, one write per
// file per fetch, off the event loop); set-aside subjects kept: 5 per kind
// (pull-aside.ts); pull states are kept for the STATES_KEPT episodes used last
// (another is read again from its .pull-state.json when needed), and the
// result names the first EPISODES_KEPT episodes: a publisher inventing
// episodes costs directories on disk, not memory.
// Messages are acknowledged once their rows and the state are on disk.
// When the pull starts while messages are delivered and not acknowledged (a
// pull that died before writing them; the server gives them again only after
// the consumer's ack wait), a batch whose new rows do not follow the last row
// written of its source (a gap) is held back once during that ack wait:
// written first, the later rows would make the earlier ones be skipped as
// already written. The held message is nak'd with that delay and written when
// it comes again, gap or not (a stream limit may have discarded the rows
// between); a pull without --follow waits for what it held. Otherwise a gap
// is written at once (a publisher sending gaps cannot stall the pull).
//
// What a publisher chooses is hostile input. A message is written only when
// its subject is exactly <prefix>.<host>.<episode>.<source> with host and
// episode tokens nameToken() makes (never "..", a "/", or an empty name:
// nothing escapes <out>, and episode.json / summary.json land only under
// their own subject's host and episode), and every line of it is a row of
// that source. Anything else, and a message whose handling throws (a
// directory where its file goes), is SET ASIDE (pull-aside.ts): terminated,
// so never redelivered, counted by kind and reported with its subject. Only
// refusals of the output tree itself stop the pull (a symlink or fifo planted
// at a file or directory it writes, a full or failing disk): the message is
// then not acknowledged, and a rerun once that is fixed writes it.
// Directories are 0750 and files 0640, none created or written through a symlink.
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { AckPolicy, jetstream, jetstreamManager, type JsMsg } from '@nats-io/jetstream';
import { connectNats, type NatsEndpoint } from './connection.js';
import { makeDirNoFollow } from '../../util/safe-dir.js';
import { replaceFileNoFollow } from '../../util/safe-file.js';
import { errCode, openOwnNoFollow } from '../../util/write-refusal.js';
import { isNameToken } from './names.js';
import { FILE_OF_SOURCE } from './subjects.js';
import { splitBatch } from './pull-batch.js';
import { SetAside, type AsideExample, type AsideKind } from './pull-aside.js';

export interface PullOptions extends NatsEndpoint {
  stream: string;
  out: string;
  durable: string;
  /** The subject prefix the forwarders publish under (sinks.nats.subject_prefix); default 'labtel'. */
  prefix?: string;
  follow?: boolean;
  signal?: AbortSignal;
}

export interface PullResult {
  rows: number;
  skipped: number;
  episodes: string[];
  /** More episodes were written to than `episodes` names (it keeps the first EPISODES_KEPT). */
  moreEpisodes: boolean;
  /** Messages set aside (terminated, not written), by kind (pull-aside.ts). */
  rejected: Record<AsideKind, number>;
  /** The first few set-aside messages of each kind: subject and why. */
  setAside: Partial<Record<AsideKind, AsideExample[]>>;
  /** Row messages held back once because rows before theirs had not been written yet (a gap). */
  held: number;
}

interface EpisodeState {
  dir: string;
  /** Per source, the last seq written (no prototype: a source named "constructor" is a name like any other). */
  written: Record<string, number>;
  /** Per rows file (its name), its size once written: a pull killed before saving the state leaves more, which is cut off. */
  bytes: Record<string, number>;
  /** The run (episode.json's run_id, the message ids' last part) this directory holds; undefined until one is seen. */
  run: string | undefined;
  /** written changed since it was saved. */
  dirty: boolean;
}

/** One file's rows from one fetch: written with one write. */
interface Pending {
  s: EpisodeState;
  file: string;
  chunks: Uint8Array[];
  /** Per source, the last seq in chunks. */
  upTo: Map<string, number>;
  msgs: JsMsg[];
  rows: number;
}

/** One fetch's work: rows per file, and its messages by what becomes of them once the rows are on disk. */
interface Round {
  files: Map<string, Pending>;
  acks: JsMsg[];
  terms: JsMsg[];
  naks: JsMsg[];
}
const newRound = (): Round => ({ files: new Map(), acks: [], terms: [], naks: [] });

/** Pull's state in each episode directory it makes (its presence says labtel pull made the directory). */
export const PULL_STATE = '.pull-state.json';
const STATE = PULL_STATE;
/** The state's key for the rows files' sizes (not a source name: those match SOURCE). */
const BYTES = '~bytes';
/** The state's key for the run its directory holds. */
const RUN = '~run';
/** A message id's run: its last part, as the forwarder makes it (subjects.ts); '' for an id without one. */
const RUN_ID = /\/([A-Za-z0-9_-]{22})$/;
function runOf(m: JsMsg): string {
  const id = m.headers?.get('Nats-Msg-Id') ?? '';
  return RUN_ID.exec(id)?.[1] ?? '';
}
const ROWS_FILE = /^telemetry-[a-z0-9_]+\.jsonl$/;
/** Pull states kept in memory (the episodes used last); the others are on disk. */
export const STATES_KEPT = 1000;
/** Episodes the result names. */
export const EPISODES_KEPT = 1000;
/** What @nats-io/jetstream asks for with a fetch by bytes (it needs a count too, and takes 100). */
const BYTES_FETCH_MESSAGES = 100;
const RETRY_MS = 20_000;
/** A gap is taken as real on this delivery of the message after it. */
const HOLD_DELIVERIES = 2;
const NL = Buffer.from('\n');

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

/**
 * Bytes per fetch (the client takes a bound in bytes or in messages, not both;
 * bytes bound the memory whatever the messages' sizes): at least 8 MiB, and room for one of the largest messages
 * the server takes (a fetch asking for less than one message gets none); not four of them: a server taking 64 MiB
 * messages would have made two fetches in memory half a GiB.
 */
export function fetchBytes(maxPayload: number | undefined): number {
  return Math.max(8 << 20, (maxPayload ?? 1 << 20) + (64 << 10));
}

/** An error that is about the output tree (a symlink or fifo planted there, the disk), not the message: the pull stops. */
function isOutputRefusal(err: unknown): boolean {
  const code = errCode(err);
  if (code && ['ELOOP', 'ENXIO', 'ENOSPC', 'EDQUOT', 'EIO', 'EROFS'].includes(code)) return true;
  return /is a symlink|is a fifo/.test(String((err as Error)?.message));
}

/** The 409 that ends a fetch by bytes at a message that does not fit in what is left. */
function isFetchFull(err: unknown): boolean {
  return /message size exceeds maxbytes/i.test(String((err as Error)?.message));
}

/**
 * Appends `data` to `file` (created 0640), never through a symlink, into a fifo (which would stop the pull) or a
 * file not labtel's. The write runs off the event loop, so the next fetch's messages keep arriving meanwhile.
 */
async function appendNoFollow(file: string, data: Uint8Array): Promise<number> {
  const fd = openOwnNoFollow(file, 'append');
  try {
    await new Promise<void>((resolve, reject) => fs.writeFile(fd, data, (err) => (err ? reject(err) : resolve())));
    // On disk before the state says so and the messages are acknowledged: a host crash must not lose acknowledged rows.
    await new Promise<void>((resolve, reject) => fs.fsync(fd, (err) => (err ? reject(err) : resolve())));
    return fs.fstatSync(fd).size;
  } finally {
    fs.closeSync(fd);
  }
}

/** replaceFileNoFollow (safe-file.ts) off the event loop: a fresh O_EXCL temporary file beside it, made durable, renamed over it. */
async function replaceStateAsync(file: string, data: string): Promise<void> {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${Date.now()}.tmp`);
  const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW } = fs.constants;
  const fh = await fs.promises.open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o640);
  try {
    await fh.chmod(0o640);
    await fh.writeFile(data);
    await fh.sync();
  } catch (err) {
    await fh.close();
    await fs.promises.rm(tmp, { force: true });
    throw err;
  }
  await fh.close();
  await fs.promises.rename(tmp, file);
}

/** A fetch the server stopped answering (two idle heartbeats missed): that fetch's end, not the pull's; the consumer's count decides what follows. */
function isHeartbeatsMissed(err: unknown): boolean {
  return /heartbeats missed/i.test(String((err as Error)?.message));
}

/** The message as one JSON object (episode.json, summary.json), or why not. */
function objectProblem(data: Uint8Array): string | null {
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8'));
  } catch (err) {
    return `not JSON (${(err as Error).message.slice(0, 100)})`;
  }
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? null : `not a JSON object (${Array.isArray(v) ? 'an array' : v === null ? 'null' : typeof v})`;
}

export async function pull(o: PullOptions): Promise<PullResult> {
  const prefix = (o.prefix ?? 'labtel').split('.');
  const nc = await connectNats(o, { timeout: 5000 });
  const aside = new SetAside();
  const r: PullResult = { rows: 0, skipped: 0, episodes: [], moreEpisodes: false, rejected: aside.counts, setAside: aside.examples, held: 0 };
  const out = path.resolve(o.out);
  makeDirNoFollow(out, 'pull --out');
  // In order of last use; only clean ones are dropped (after a fetch is flushed), so nothing unsaved is lost.
  const states = new Map<string, EpisodeState>();
  const dirty = new Set<EpisodeState>();
  const named = new Set<string>();
  /**
   * The directory of a run of host/episode: the first run seen takes <host>/<episode>/; another run under the same
   * names (a rerun, or a second lab directory of that name) takes <host>/<episode>@<run>/ ("@" is in no token), so
   * two runs' rows never mix and the second's are not skipped as the first's seqs.
   */
  const state = (host: string, episode: string, run: string): EpisodeState => {
    const plain = load(host, episode);
    if (plain.run === undefined) {
      plain.run = run;
      plain.dirty = true;
      dirty.add(plain);
    }
    if (plain.run === run) return plain;
    const other = load(host, `${episode}@${run || 'no-run-id'}`);
    if (other.run === undefined) {
      other.run = run;
      other.dirty = true;
      dirty.add(other);
    }
    return other;
  };
  const load = (host: string, episode: string): EpisodeState => {
    const key = `${host}/${episode}`;
    let s = states.get(key);
    if (s) {
      states.delete(key);
      states.set(key, s);
    } else {
      makeDirNoFollow(path.join(out, host), 'pulled host directory');
      const dir = path.join(out, host, episode);
      makeDirNoFollow(dir, 'pulled episode directory');
      const written: Record<string, number> = Object.create(null) as Record<string, number>;
      const bytes: Record<string, number> = Object.create(null) as Record<string, number>;
      let run: string | undefined;
      try {
        // O_NONBLOCK: a fifo there is read as empty, not waited on (and replaced by the first save); only a regular file is read.
        const fd = fs.openSync(path.join(dir, STATE), fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
        try {
          if (!fs.fstatSync(fd).isFile()) throw new Error('not a regular file');
          const saved = JSON.parse(fs.readFileSync(fd, 'utf8')) as Record<string, unknown>;
          for (const [k, v] of Object.entries(saved)) if (Number.isSafeInteger(v)) written[k] = v as number;
          if (typeof saved[RUN] === 'string') run = saved[RUN];
          const sizes = saved[BYTES];
          if (typeof sizes === 'object' && sizes !== null) {
            for (const [k, v] of Object.entries(sizes)) if (ROWS_FILE.test(k) && Number.isSafeInteger(v) && (v as number) >= 0) bytes[k] = v as number;
          }
        } finally {
          fs.closeSync(fd);
        }
      } catch {
        // new here
      }
      // What a pull killed between its write and its state save appended (whole rows or part of one) is cut off:
      // its messages were not acknowledged, so they come again and are written then, once.
      for (const [name, size] of Object.entries(bytes)) {
        try {
          const fd = fs.openSync(path.join(dir, name), fs.constants.O_WRONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
          try {
            const st = fs.fstatSync(fd);
            if (st.isFile() && st.size > size) fs.ftruncateSync(fd, size);
          } finally {
            fs.closeSync(fd);
          }
        } catch {
          // gone, or not a file labtel writes: the append refuses it
        }
      }
      s = { dir, written, bytes, run, dirty: false };
      states.set(key, s);
      if (named.has(key)) {
        // named already
      } else if (named.size < EPISODES_KEPT) {
        named.add(key);
        r.episodes.push(key);
      } else r.moreEpisodes = true;
    }
    return s;
  };
  // tmp + rename: a crash never leaves half a state, and a symlink there is replaced, never written through.
  const save = () => {
    for (const s of dirty) {
      replaceFileNoFollow(path.join(s.dir, STATE), JSON.stringify({ ...s.written, [BYTES]: s.bytes, [RUN]: s.run }));
      s.dirty = false;
      dirty.delete(s);
    }
  };
  /** save(), its writes and fsyncs off the event loop (the next fetch is taken meanwhile). */
  const saveAsync = async () => {
    for (const s of [...dirty]) {
      const data = JSON.stringify({ ...s.written, [BYTES]: s.bytes, [RUN]: s.run });
      s.dirty = false;
      dirty.delete(s);
      await replaceStateAsync(path.join(s.dir, STATE), data);
    }
  };
  /** Drops the states used longest ago beyond STATES_KEPT (saved, and not in the round being taken: each is read again from disk when needed). */
  const forget = () => {
    const inUse = new Set([...round.files.values()].map((p) => p.s));
    for (const [key, s] of states) {
      if (states.size <= STATES_KEPT) break;
      if (!s.dirty && !inUse.has(s)) states.delete(key);
    }
  };

  // The fetch being taken: rows per file, the messages to acknowledge, set aside and hold back.
  let round = newRound();
  /** The fetch before, while it is written: its rows count as queued for the one being taken. */
  let writing: Round | null = null;
  /** Stream seqs of held messages not yet seen again, and until when they are waited for. */
  const holding = new Map<number, number>();
  const setAside = (m: JsMsg, kind: AsideKind, why: string, into: Round = round) => {
    aside.add(kind, m.subject, why);
    into.terms.push(m);
  };

  const heldBefore = (streamSeq: number): boolean => {
    const now = Date.now();
    for (const [seq, until] of holding) {
      // Not seen again in three ack waits: it went elsewhere (another pull on this durable, a stream limit).
      if (until < now) holding.delete(seq);
      else if (seq < streamSeq) return true;
    }
    return false;
  };

  const take = (m: JsMsg) => {
    holding.delete(m.info.streamSequence);
    // Exactly <prefix>.<host>.<episode>.<source>: a token more or less would put a message in another host's directory.
    const t = m.subject.split('.');
    if (t.length !== prefix.length + 3 || prefix.some((p, i) => t[i] !== p)) {
      return setAside(m, 'subject', `${t.length} tokens where ${prefix.length + 3} (${prefix.join('.')}.<host>.<episode>.<source>) were due`);
    }
    const [host, episode, source] = t.slice(-3) as [string, string, string];
    if (!isNameToken(host) || !isNameToken(episode) || !SOURCE.test(source) || (source.startsWith('_') && source !== '_episode' && source !== '_summary')) {
      return setAside(m, 'subject', `${!isNameToken(host) ? 'the host' : !isNameToken(episode) ? 'the episode' : 'the source'} is not a name labtel makes`);
    }
    if (source === '_episode' || source === '_summary') {
      const problem = objectProblem(m.data);
      if (problem) return setAside(m, 'not_an_object', `${source.slice(1)}.json: ${problem}`);
      const s = state(host, episode, runOf(m));
      const file = path.join(s.dir, `${source.slice(1)}.json`);
      // rename() over a directory fails after the temporary file is written: refuse it first.
      const st = fs.lstatSync(file, { throwIfNoEntry: false });
      if (st && !st.isFile() && !st.isSymbolicLink()) return setAside(m, 'unwritable', `${file} is not a regular file`);
      replaceFileNoFollow(file, m.data);
      round.acks.push(m);
      return;
    }
    const b = splitBatch(m.data, source);
    if (!b.ok) return setAside(m, b.kind, b.why);
    const { seqs, starts, ends, noFinalNewline } = b.batch;
    const s = state(host, episode, runOf(m));
    const name = Object.hasOwn(FILE_OF_SOURCE, source) ? FILE_OF_SOURCE[source]! : source;
    const file = path.join(s.dir, `telemetry-${name}.jsonl`);
    let p = round.files.get(file);
    // What the fetch before queued for this file counts as written (it is being written, or was set aside).
    const upTo = p?.upTo.get(source) ?? writing?.files.get(file)?.upTo.get(source) ?? s.written[source] ?? -1;
    // Seqs increase: the rows not yet written are a tail of the message.
    let first = 0;
    while (first < seqs.length && seqs[first]! <= upTo) first++;
    if (first === seqs.length) {
      r.skipped += first;
      round.acks.push(m);
      return;
    }
    const gap = seqs[first]! > upTo + 1;
    // Held again while a message held before it (published before it) has not come back: they are written in order.
    if (gap && ((m.info.deliveryCount < HOLD_DELIVERIES && Date.now() < holdUntil) || heldBefore(m.info.streamSequence))) {
      // A gap: the rows before may come again later (see the top of this file); this message waits one ack wait.
      round.naks.push(m);
      holding.set(m.info.streamSequence, Math.min(holding.get(m.info.streamSequence) ?? Infinity, Date.now() + 3 * ackWaitMs + 5000));
      r.held++;
      return;
    }
    r.skipped += first;
    if (!p) round.files.set(file, (p = { s, file, chunks: [], upTo: new Map(), msgs: [], rows: 0 }));
    p.chunks.push(m.data.subarray(starts[first]!, ends[seqs.length - 1]!));
    if (noFinalNewline) p.chunks.push(NL);
    p.upTo.set(source, seqs[seqs.length - 1]!);
    p.msgs.push(m);
    p.rows += seqs.length - first;
  };

  let ackWaitMs = 30_000;
  /** Until when a gap is held back (see the top of this file): never unless messages were awaiting their ack at the start. */
  let holdUntil = 0;
  /**
   * Writes a round (one write per file; a file that cannot be written sets its messages aside, unless the output tree
   * itself is refused), saves the state, then acknowledges, terminates and holds back its messages.
   */
  const flush = async (w: Round) => {
    let fatal: unknown;
    for (const p of w.files.values()) {
      try {
        p.s.bytes[path.basename(p.file)] = await appendNoFollow(p.file, p.chunks.length === 1 ? p.chunks[0]! : Buffer.concat(p.chunks));
      } catch (err) {
        if (isOutputRefusal(err)) fatal ??= err;
        else for (const m of p.msgs) setAside(m, 'unwritable', (err as Error).message, w);
        continue; // not written: neither acknowledged nor remembered
      }
      for (const [source, seq] of p.upTo) p.s.written[source] = seq;
      p.s.dirty = true;
      dirty.add(p.s);
      r.rows += p.rows;
      w.acks.push(...p.msgs);
    }
    // What was written is remembered even when the pull stops: a rerun does not write it twice.
    await saveAsync();
    forget();
    if (fatal) throw fatal;
    // Acknowledged once what they carried is on disk and remembered: a crash before redelivers, and the state skips them.
    for (const m of w.acks) m.ack();
    for (const m of w.terms) m.term();
    for (const m of w.naks) m.nak(ackWaitMs);
  };
  /** Writes the round taken so far, once the one before is written; the next round is taken meanwhile. */
  let flushing: Promise<void> = Promise.resolve();
  const handOver = async (): Promise<void> => {
    await flushing;
    const w = (writing = round);
    round = newRound();
    flushing = flush(w).finally(() => {
      if (writing === w) writing = null;
    });
    // Rejections are seen at the next await of `flushing`; none is left unhandled meanwhile.
    flushing.catch(() => undefined);
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
    const info = await consumer.info(true);
    ackWaitMs = Math.ceil((info.config.ack_wait ?? 30e9) / 1e6);
    if (info.num_ack_pending > 0) holdUntil = Date.now() + ackWaitMs + 5000;
    const maxBytes = fetchBytes(nc.info?.max_payload);
    // A fetch by bytes that meets a message larger than what is left of them ends with a 409 ("message size exceeds
    // maxbytes"), which the client throws: that is the fetch's end. A message larger than a whole fetch (stored
    // under a larger max_payload) is then fetched alone (`one`).
    let one = false;
    /**
     * Messages known to be left for the consumer, when fewer than a fetch by bytes asks for (the last delivery's
     * pending count), or 0. A fetch by bytes that gets fewer messages than it asks for and fewer bytes waits out its
     * expiry (a second) before it ends: the tail of a backlog is fetched by count instead, which ends on the last
     * message asked for, at most as many as max_payload-sized messages fit in a fetch's bytes.
     */
    let left = 0;
    const byCount = Math.max(1, Math.floor(maxBytes / (nc.info?.max_payload ?? 1 << 20)));
    const start = () =>
      consumer.fetch(one ? { max_messages: 1, expires: 1000 } : left > 0 ? { max_messages: Math.min(left, byCount), expires: 1000 } : { max_bytes: maxBytes, expires: 1000 });
    /** Takes each message as it arrives; how many there were, the last one's pending count and their bytes. */
    const takeAll = async (batch: Awaited<ReturnType<typeof start>>): Promise<{ got: number; pending: number; bytes: number }> => {
      let got = 0;
      let pending = -1;
      let bytes = 0;
      try {
        for await (const m of batch) {
          got++;
          pending = m.info.pending;
          bytes += m.data.length;
          try {
            take(m);
          } catch (err) {
            if (isOutputRefusal(err)) {
              await handOver();
              await flushing;
              throw err;
            }
            // Anything else a message makes happen (a directory where its file goes, a name the filesystem refuses) is that message's.
            setAside(m, 'unwritable', (err as Error).message);
          }
          // The server sends no more than that for this fetch, but the client would wait for the bytes until it missed two heartbeats.
          if (got === BYTES_FETCH_MESSAGES) break;
        }
        one = false;
      } catch (err) {
        if (isFetchFull(err)) one = got === 0;
        else if (!isHeartbeatsMissed(err)) throw err;
      }
      return { got, pending, bytes };
    };
    let next: Awaited<ReturnType<typeof start>> | null = await start();
    while (next) {
      const { got, pending, bytes } = await takeAll(next);
      // This round is written while the next fetch is taken: once the round before is written, so at most two
      // fetches' bytes are in memory, one written and one taken. The next fetch is asked for unless the last
      // delivery said nothing is left: then the consumer is asked instead of waiting out a fetch.
      await handOver();
      // The tail: fewer messages left than a fetch by bytes asks for, and (at this fetch's mean size) fewer bytes.
      left = got > 0 && pending > 0 && pending < BYTES_FETCH_MESSAGES && (pending * bytes) / got < maxBytes ? pending : 0;
      next = !o.signal?.aborted && (one || (got > 0 && pending > 0)) ? await start() : null;
      if (next || o.signal?.aborted) continue;
      await flushing;
      // A held message not seen again in three ack waits went elsewhere (another pull on this durable, a stream limit).
      for (const [seq, until] of holding) if (until < Date.now()) holding.delete(seq);
      if (!o.follow && holding.size === 0 && (await retrying(() => consumer.info())).num_pending === 0) break;
      left = 0;
      next = await start();
    }
    await flushing;
  } finally {
    await flushing.catch(() => undefined);
    save();
    await nc.drain().catch(() => nc.close());
  }
  return r;
}
