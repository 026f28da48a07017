// The guest line fuzz target (issue 17 point 7): what a guest (or a
// compromised qemu-guest-agent) sends on its channel, fed straight to the
// collector's line handling with no socket: the bounded line reader, then
// GuestLines (line rate, total cap, byte budget, judging, writing the
// guest's own text) for protocol jsonl, or QgaSession (sync, one command,
// its answer) and GuestLines.answer for protocol qga. The rows go through
// the real row writer into a file that is read back after every run.
// Seeded with real traffic (test/fixtures/guest/, recorded by
// scripts/record-guest-fixtures.sh): the test guest's agent's lines and a
// real qemu-ga's answers, mutated, concatenated, split at any byte, mixed
// with arbitrary bytes, deep nesting, long lines, control characters,
// numbers JSON.stringify would lengthen, 0xFF and CRs; the clock moves by
// chosen steps so the budgets refill and run dry.
//
// Invariants of every run:
//   - nothing throws (a pending qga command settles: answered, refused, or closed);
//   - held bytes stay bounded: the reader's unfinished line <= its bound after
//     every chunk, qga's queue <= QGA_MAX_QUEUED_BYTES;
//   - every line is accounted for exactly once: too long (reader), blank, or
//     written, or counted under exactly one drop reason;
//   - each written row validates, holds exactly what the guest sent (its
//     line or the answer's `return`, parsed), and is at most the guest's
//     bytes + ROW_OVERHEAD_MAX; bytes_written is the rows' bytes on disk;
//   - over any span of rows, the bytes written are at most the bucket plus
//     max_bytes_per_s x span, and never past the total cap;
//   - Object.prototype is untouched.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { GuestLines, newCounters } from '../../src/collectors/guest_agent/guest-lines.js';
import { QGA_MAX_QUEUED_BYTES, QgaSession, type QgaAnswer } from '../../src/collectors/guest_agent/qga-session.js';
import { ROW_OVERHEAD_MAX } from '../../src/collectors/guest_agent/row-text.js';
import { JsonlWriter } from '../../src/rows/jsonl-writer.js';
import { ROW_SCHEMAS } from '../../src/rows/registry.js';
import { BoundedLineReader } from '../../src/util/bounded-line-reader.js';
import { MAX_JSON_DEPTH } from '../../src/util/json-depth.js';

const FIXTURES = new URL('../fixtures/guest/', import.meta.url);
const linesOf = (file: string): Buffer[] => {
  const data = fs.readFileSync(new URL(file, FIXTURES));
  const out: Buffer[] = [];
  for (let start = 0, nl = data.indexOf(10); nl >= 0; start = nl + 1, nl = data.indexOf(10, start)) out.push(data.subarray(start, nl));
  return out;
};
const GUEST_LINES = linesOf('test-guest-lines.jsonl');
const QGA_ANSWERS = linesOf('qga-answers.jsonl');

/** Every line recorded from the real test guest's agent and from a real qemu-ga (answers as bytes: the sync's starts with 0xFF). */
export const GUEST_SEEDS: Buffer[] = [...GUEST_LINES, ...QGA_ANSWERS];

type Row = Record<string, unknown>;
const COMMANDS = ['guest-get-cpustats', 'guest-get-diskstats', 'guest-get-memory-blocks', 'guest-get-osinfo'];
const DROPS = ['dropped_rate', 'dropped_invalid_utf8', 'dropped_invalid_json', 'dropped_too_deep', 'dropped_not_object', 'dropped_byte_rate', 'dropped_total_cap'] as const;

const seed = fc.constantFrom(...GUEST_SEEDS);
/** A recorded line with bytes changed, inserted or removed. */
const mutated = fc
  .tuple(seed, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 2 }), fc.constantFrom(...'{}[]":,\\ 0-ex\r\n'.split('').map((c) => c.charCodeAt(0)), 0x00, 0x01, 0x7f, 0xff, 0xc0, 0xed, 0xe2)), { maxLength: 4 }))
  .map(([l, edits]) => {
    let b = Buffer.from(l);
    for (const [at, op, c] of edits) {
      const i = b.length ? at % (b.length + 1) : 0;
      const x = Buffer.from([c]);
      b = op === 0 ? Buffer.concat([b.subarray(0, i), x, b.subarray(i + 1)]) : op === 1 ? Buffer.concat([b.subarray(0, i), x, b.subarray(i)]) : Buffer.concat([b.subarray(0, i), b.subarray(i + 1)]);
    }
    return b;
  });
const deep = fc.tuple(fc.integer({ min: MAX_JSON_DEPTH - 2, max: 2000 }), fc.boolean()).map(([n, closed]) => Buffer.from('{"a":'.repeat(n) + '1' + (closed ? '}'.repeat(n) : '')));
const hostile = fc.oneof(
  fc.constantFrom(
    '{"n":[1e20,1e20,1e20,1e20,1e20,1e20,1e20,1e20]}',
    '{"c":"\\u0001\\u0002\\u001f\\u0000"}',
    '{"__proto__":{"polluted":1},"constructor":{"prototype":{"polluted":1}},"t":1}',
    '{"t":1e400,"ts":"x","uptime":-0}',
    '{"a":1,"a":2}',
    '{"s":"\\ud800"}',
    '\ufeff{"bom":1}',
    '{} ',
    '[1]',
    '"s"',
    'null',
    '{"return":1e20}',
    '{"error":{"class":"CommandNotFound","desc":"x"}}',
    '{"return":[{"cpu":0,"user":1e20}],"return":{}}',
  ).map((s) => Buffer.from(s)),
  fc.json({ maxDepth: 4 }).map((s) => Buffer.from(s)),
  fc.string({ unit: 'binary', maxLength: 120 }).map((s) => Buffer.from(JSON.stringify({ s, [s]: 1 }))),
);
const line = fc.oneof({ weight: 4, arbitrary: seed }, { weight: 4, arbitrary: mutated }, { weight: 1, arbitrary: deep }, { weight: 3, arbitrary: hostile });
const piece = fc.oneof(
  { weight: 8, arbitrary: fc.tuple(line, fc.constantFrom('\n', '\r\n', '', '\n\n')).map(([l, end]) => Buffer.concat([l, Buffer.from(end)])) },
  { weight: 1, arbitrary: fc.tuple(seed, fc.integer({ min: 1, max: 30 })).map(([l, n]) => Buffer.concat(Array.from({ length: n }, () => Buffer.concat([l, Buffer.from('\n')])))) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)) },
  { weight: 1, arbitrary: fc.tuple(fc.integer({ min: 1, max: 9000 }), fc.constantFrom(0x61, 0x7b, 0xff)).map(([n, c]) => Buffer.alloc(n, c)) },
);

interface Input {
  qga: boolean;
  command: number;
  /** The agent's side for qga: does the sync get its answer (with junk before it)? */
  syncAnswered: boolean;
  pieces: Buffer[];
  cuts: number[];
  /** ns the clock moves before each chunk. */
  steps: number[];
  lineCap: number;
  maxLinesPerS: number;
  maxBytesPerS: number;
  totalBytes: number;
}

const input: fc.Arbitrary<Input> = fc.record({
  qga: fc.boolean(),
  command: fc.nat({ max: COMMANDS.length - 1 }),
  syncAnswered: fc.oneof({ weight: 5, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
  pieces: fc.array(piece, { maxLength: 16 }),
  cuts: fc.array(fc.nat(), { maxLength: 10 }),
  steps: fc.array(fc.integer({ min: 0, max: 2e9 }), { maxLength: 10 }),
  lineCap: fc.constantFrom(16, 200, 1024, 8192),
  maxLinesPerS: fc.constantFrom(1, 5, 1000),
  maxBytesPerS: fc.constantFrom(64, 1024, 65536),
  totalBytes: fc.constantFrom(512, 4096, 1 << 20),
});

/**
 * The file the rows of every run go through (the real writer, appending),
 * truncated before each run. Unlinked as soon as it is open: nothing is left
 * behind however the process ends; it is read back through its descriptor.
 */
let outFile: { path: string; fd: number } | null = null;
function rowFile(): { path: string; fd: number } {
  if (!outFile) {
    // tmpfs where there is one: truncating a file on an overlay /tmp took 40% of a run.
    const dir = fs.mkdtempSync(path.join(fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir(), 'labtel-fuzz-guest-'));
    const p = path.join(dir, 'rows.jsonl');
    outFile = { path: p, fd: fs.openSync(p, 'a+') };
    fs.rmSync(dir, { recursive: true, force: true });
  }
  fs.ftruncateSync(outFile.fd, 0);
  return outFile;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function fail(why: string): never {
  throw new Error(why);
}

async function check(inp: Input): Promise<void> {
  const protoBefore = Object.getOwnPropertyNames(Object.prototype).join(',');
  const file = rowFile();
  const writer = new JsonlWriter({ fd: file.fd, name: file.path }, { availableInDeployment: false });
  const counters = newCounters();
  let t = 1e9;
  const lines = new GuestLines({
    max_lines_per_s: inp.maxLinesPerS,
    max_bytes_per_s: inp.maxBytesPerS,
    max_total_mb: inp.totalBytes / (1 << 20),
    lineCap: inp.lineCap,
    writer,
    counters,
    now: () => t,
  });
  // What reached the handler, to check the rows against: jsonl lines, or the qga answer.
  const delivered: Buffer[] = [];
  let blank = 0;
  const write: Buffer[] = [];
  const qga = inp.qga ? new QgaSession((b) => void write.push(b)) : null;
  const reader = new BoundedLineReader(inp.lineCap, (l) => {
    if (qga) return qga.onLine(l);
    if (l.length === 0 || (l.length === 1 && l[0] === 13)) blank++;
    else delivered.push(Buffer.from(l));
    lines.line(l);
  });
  const feed = (stream: Buffer) => {
    const offsets = [...new Set(inp.cuts.map((c) => (stream.length ? c % (stream.length + 1) : 0)))].sort((a, b) => a - b);
    let at = 0;
    [...offsets, stream.length].forEach((c, i) => {
      t += inp.steps[i] ?? 0;
      reader.push(stream.subarray(at, c));
      at = c;
      if (reader.pending > inp.lineCap) fail(`the reader holds ${reader.pending} bytes of a line, past its bound ${inp.lineCap}`);
      if (qga && qga.held > QGA_MAX_QUEUED_BYTES) fail(`the qga session holds ${qga.held} queued bytes, past ${QGA_MAX_QUEUED_BYTES}`);
    });
  };

  const command = COMMANDS[inp.command]!;
  let answer: QgaAnswer | null = null;
  let answeredLine: Buffer | null = null;
  if (qga) {
    // The session syncs first: its request carries the id the agent's 0xFF answer must echo.
    let settled = false;
    const pending = qga.execute(command).then(
      (a) => ((answer = a), (settled = true)),
      (e: Error) => {
        settled = true;
        if (!/the guest channel closed|answered|CommandNotFound|GenericError|: /.test(e.message)) fail(`qga failed oddly: ${e.message}`);
      },
    );
    await Promise.resolve();
    const sync = write.map((b) => b.toString('latin1')).join('');
    const id = /"id":(\d+)/.exec(sync)?.[1];
    if (!sync.startsWith('\xff') || id === undefined) fail(`the session did not start with guest-sync-delimited: ${JSON.stringify(sync)}`);
    const syncLine = Buffer.from(`\xff{"return": ${id}}`, 'latin1');
    if (inp.syncAnswered) feed(Buffer.concat([...inp.pieces.slice(0, 1), Buffer.from('\n'), syncLine, Buffer.from('\n')]));
    await new Promise((r) => setImmediate(r)); // the session asks its command
    const asked = write.slice(1).map((b) => b.toString()).join('');
    if (inp.syncAnswered && syncLine.length <= inp.lineCap && !settled && asked !== `${JSON.stringify({ execute: command })}\n`) fail(`after the sync the session asked ${JSON.stringify(asked)}`);
    const rest = Buffer.concat(inp.pieces.slice(inp.syncAnswered ? 1 : 0));
    const firstLine = rest.indexOf(10);
    if (firstLine >= 0 && firstLine <= inp.lineCap) answeredLine = rest.subarray(0, firstLine);
    feed(rest);
    await new Promise((r) => setImmediate(r));
    if (!settled) qga.close(); // no whole answer came: the connection ends
    await pending;
    if (answer) lines.answer(command, answer);
  }
  else feed(Buffer.concat(inp.pieces));
  // A line still arriving that already passed the bound is counted too long before its end.
  const unfinishedTooLong = reader.inLine && reader.pending === 0 ? 1 : 0;
  reader.end();
  writer.close();

  const size = fs.fstatSync(file.fd).size;
  const bytes = Buffer.alloc(size);
  for (let at = 0; at < size; ) at += fs.readSync(file.fd, bytes, at, size - at, at);
  const text = bytes.toString('utf8');
  const rowTexts = text === '' ? [] : text.slice(0, -1).split('\n');
  const rows = rowTexts.map((l) => JSON.parse(l) as Row);
  rows.forEach((r, i) => {
    const e = ROW_SCHEMAS.guest!.safeParse(r).error;
    if (e) fail(`row ${i} breaks the guest row schema: ${e.message}`);
    if (r.seq !== i) fail(`row ${i} has seq ${String(r.seq)}`);
  });
  const charged = rows.map((r, i) => ({ r, bytes: Buffer.byteLength(rowTexts[i]!) + 1 })).filter(({ r }) => r.kind === 'line' || (r.kind === 'qga' && r.result !== null));
  const sum = charged.reduce((a, c) => a + c.bytes, 0);
  if (counters.bytes_written !== sum) fail(`bytes_written ${counters.bytes_written}, but the line and qga rows on disk hold ${sum}`);
  if (sum > inp.totalBytes) fail(`${sum} bytes written past the total cap ${inp.totalBytes}`);
  // Over any span: at most the bucket plus rate x span.
  const capacity = lines.budget.capacity;
  let acc = 0;
  let minBefore = Infinity;
  for (const { r, bytes } of charged) {
    const s = (r.t_mono_ns as number) / 1e9;
    minBefore = Math.min(minBefore, acc - inp.maxBytesPerS * s);
    acc += bytes;
    if (acc - inp.maxBytesPerS * s - minBefore > capacity + 1e-6) fail(`rows up to seq ${String(r.seq)} exceed the bucket (${capacity}) plus ${inp.maxBytesPerS} B/s over their span`);
  }

  if (!qga) {
    // Each line: too long, blank, written, or one drop reason.
    const dropped = DROPS.reduce((a, k) => a + counters[k], 0);
    if (reader.lines + unfinishedTooLong !== reader.oversize + blank + counters.lines + dropped) {
      fail(`${reader.lines} lines ended (+${unfinishedTooLong} unfinished): ${reader.oversize} too long + ${blank} blank + ${counters.lines} written + ${dropped} dropped do not add up`);
    }
    const lineRows = rows.filter((r) => r.kind === 'line');
    if (lineRows.length !== counters.lines || rows.length !== counters.lines) fail(`${rows.length} rows for ${counters.lines} lines written`);
    // The rows are, in order, lines that were delivered: each exactly what the guest sent, within its bytes + the overhead.
    let k = 0;
    lineRows.forEach((r, i) => {
      while (k < delivered.length) {
        const d = delivered[k++]!;
        let v: unknown;
        try {
          v = JSON.parse(utf8.decode(d)); // (a leading BOM dropped, as the collector's decoder does)
        } catch {
          continue;
        }
        if (isDeepStrictEqual(v, r.guest)) {
          if (Buffer.byteLength(rowTexts[i]!) + 1 > d.length + ROW_OVERHEAD_MAX) fail(`a row of ${Buffer.byteLength(rowTexts[i]!) + 1} bytes for a line of ${d.length}`);
          return;
        }
      }
      fail(`line row ${i} holds what no delivered line held: ${rowTexts[i]!.slice(0, 200)}`);
    });
  } else {
    const qgaRows = rows.filter((r) => r.kind === 'qga');
    if (qgaRows.length !== (answer ? 1 : 0)) fail(`${qgaRows.length} qga rows for ${answer ? 'an answer' : 'no answer'}`);
    const got = answer as QgaAnswer | null;
    if (got && qgaRows[0]!.result !== null) {
      if (!isDeepStrictEqual(qgaRows[0]!.result, got.value)) fail(`the qga row's result is not the answer's return`);
      if (answeredLine && Buffer.byteLength(rowTexts[0]!) + 1 > answeredLine.length + ROW_OVERHEAD_MAX) fail(`a qga row of ${Buffer.byteLength(rowTexts[0]!) + 1} bytes for an answer of ${answeredLine.length}`);
    }
  }
  if (Object.getOwnPropertyNames(Object.prototype).join(',') !== protoBefore || ({} as Row).polluted !== undefined) fail('Object.prototype changed');
}

export function guestLinesProperty(): fc.IAsyncPropertyWithHooks<[Input]> {
  return fc.asyncProperty(input, check);
}
