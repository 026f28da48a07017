// The QMP fuzz target (issue 17 point 7): QEMU's bytes, as a compromised
// QEMU might send them, fed straight to the client's line handling
// (QmpLineHandler: no socket, no timers, thousands of inputs a second).
// Seeded with real traffic recorded from a real QEMU (test/fixtures/qmp/,
// scripts/record-qmp-fixtures.ts), then mutated, concatenated, split at any
// byte, and mixed with arbitrary bytes, deep nesting, huge numbers, unicode
// and __proto__ keys.
//
// Invariants, after every chunk and at the end:
//   - feed() never throws, and nothing it reaches throws (no `internal` problem);
//   - what is held stays bounded: the partial line <= maxMessageBytes, the
//     event queue <= maxQueuedEvents and <= maxQueuedEventBytes;
//   - every waiting command settles exactly once (by its reply, a too-deep
//     reply, or the end of the connection);
//   - every line is accounted for exactly once: the greeting, an event
//     (queued or dropped), a reply to a waiting command, or one problem of a
//     fixed kind (while the connection lives);
//   - queued events are well-formed (a name of at most 256 characters, data
//     that serializes, a timestamp that is null or non-negative);
//   - the events taken are at most maxEventsPerS over the input's time plus
//     its burst, and cost at most the byte budget over that time, its burst,
//     and one event of debt (eventRowBytes);
//   - Object.prototype is untouched.
import fs from 'node:fs';
import fc from 'fast-check';
import { MAX_EVENT_NAME, QmpLineHandler, eventRowBytes } from '../../src/qmp/line-handler.js';
import { QMP_PROBLEM_KIND_NAMES, QmpProblems } from '../../src/qmp/problems.js';
import { MAX_JSON_DEPTH, jsonDepthExceeds } from '../../src/util/json-depth.js';
import { QapiError } from '../../src/util/qapi-error.js';

const FIXTURES = new URL('../fixtures/qmp/', import.meta.url);

/** Every line recorded from a real QEMU (TCG, and KVM where it was recorded). */
export const QMP_SEEDS: string[] = fs
  .readdirSync(FIXTURES)
  .filter((f) => f.endsWith('.jsonl'))
  .sort()
  .flatMap((f) => fs.readFileSync(new URL(f, FIXTURES), 'utf8').split('\n'))
  .filter((l) => l !== '');

const GREETING = QMP_SEEDS.find((l) => l.startsWith('{"QMP"')) ?? '{"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}}, "capabilities": []}}';
const IDS = ['labtel-1', 'labtel-2', 'labtel-3', 'labtel-4'];
const LIMITS = { maxMessageBytes: 2048, maxQueuedEvents: 8, maxQueuedEventBytes: 2048, maxEventDataBytes: 512, maxEventsPerS: 5, maxEventBytesPerS: 1500 };
/** A limit left open, so the others are reached on their own (the byte budget binds before the rate otherwise). */
const OPEN = 1e9;

const seed = fc.constantFrom(...QMP_SEEDS);
/** A recorded reply answering one of the ids labtel waits for (QEMU's "rec-N" ids swapped). */
const answering = fc.tuple(seed, fc.constantFrom(...IDS)).map(([l, id]) => l.replace(/"rec-[\w-]+"/, JSON.stringify(id)));
/** A recorded line with bytes changed, inserted or removed. */
const mutated = fc
  .tuple(answering, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 2 }), fc.constantFrom('{', '}', '[', ']', '"', '\\', ':', ',', '\n', '\r', ' ', '0', '-', 'e', 'x', '\u0000', '\u00e9', '\ud83d', '\u2028')), { maxLength: 4 }))
  .map(([l, edits]) => {
    let s = l;
    for (const [at, op, c] of edits) {
      const i = s.length ? at % (s.length + 1) : 0;
      s = op === 0 ? s.slice(0, i) + c + s.slice(i + 1) : op === 1 ? s.slice(0, i) + c + s.slice(i) : s.slice(0, i) + s.slice(i + 1);
    }
    return s;
  });
/** Nesting around the limit and far past it, in every place a message has one. */
const deep = fc
  .tuple(fc.integer({ min: MAX_JSON_DEPTH - 2, max: 3000 }), fc.constantFrom('[', '{"a": '), fc.boolean(), fc.constantFrom('event', 'reply', 'id', 'bare'), fc.constantFrom(...IDS))
  .map(([n, open, closed, where, id]) => {
    const close = open === '[' ? ']' : '}';
    const v = open.repeat(n) + (open === '[' ? '' : '1') + (closed ? close.repeat(n) : '');
    if (where === 'event') return `{"event": "DEEP", "data": ${v}}`;
    if (where === 'reply') return `{"return": ${v}, "id": ${JSON.stringify(id)}}`;
    if (where === 'id') return `{"return": {}, "id": ${v}}`;
    return v;
  });
const hostileJson = fc.oneof(
  fc.constantFrom(
    '{"return": 1e400, "id": "labtel-1"}',
    '{"return": -1e-400, "id": "labtel-2"}',
    '{"timestamp": {"seconds": 1e300, "microseconds": 99999999999999999999}, "event": "HUGE"}',
    '{"timestamp": {"seconds": 9007199254740993, "microseconds": 0}, "event": "PAST_SAFE"}',
    '{"__proto__": {"id": "labtel-1", "return": 1}}',
    '{"__proto__": null, "return": {}, "id": "labtel-3"}',
    '{"constructor": {"prototype": {"polluted": 1}}, "event": "X"}',
    '{"event": "__proto__", "data": {"__proto__": {"polluted": 1}}}',
    '{"event": 7}',
    '{"error": 7, "id": "labtel-4"}',
    '{"error": {"class": {"a": [1]}, "desc": [[["x"]]]}, "id": "labtel-2"}',
    '{"error": {"desc": [[["x"]]]}}',
    '{"return": {}, "id": ["labtel-1"]}',
    '{"QMP": null}',
    '{"QMP": {"version": {"qemu": {"major": 1e400}}}}',
    '{"id": "labtel-1"}',
  ),
  fc.tuple(fc.string({ unit: 'binary', maxLength: 300 }), fc.constantFrom('event', 'desc', 'id', 'key')).map(([s, where]) =>
    where === 'event'
      ? `{"event": ${JSON.stringify(s)}, "data": {${JSON.stringify(s)}: 1}}`
      : where === 'desc'
        ? `{"error": {"class": "GenericError", "desc": ${JSON.stringify(s)}}, "id": "labtel-1"}`
        : where === 'id'
          ? `{"return": {}, "id": ${JSON.stringify(s)}}`
          : `{${JSON.stringify(s)}: {}}`,
  ),
  // Errors answering a waiting command whose class and desc are anything (String() of {"toString": 1} throws).
  fc
    .tuple(fc.constantFrom(...IDS), ...[0, 1].map(() => fc.constantFrom('"GenericError"', '{"toString": 1}', '{"valueOf": 2, "toString": [3]}', '[1, [2]]', '7', 'null', '""')))
    .map(([id, cls, desc]) => `{"error": {"class": ${cls}, "desc": ${desc}}, "id": ${JSON.stringify(id)}}`),
  // Data around maxEventDataBytes, in characters of one byte and of three (the cap is in bytes as written).
  fc.tuple(fc.integer({ min: 100, max: 1200 }), fc.constantFrom('x', '\u20ac', '\n')).map(([n, c]) => `{"event": "BIG", "data": {"blob": ${JSON.stringify(c.repeat(n))}}}`),
  fc.json({ maxDepth: 4 }),
  fc.string({ unit: 'binary', maxLength: 200 }),
);
const line = fc.oneof({ weight: 3, arbitrary: seed }, { weight: 3, arbitrary: answering }, { weight: 3, arbitrary: mutated }, { weight: 1, arbitrary: deep }, { weight: 3, arbitrary: hostileJson });
const EVENTS = QMP_SEEDS.filter((l) => l.includes('"event"'));
/** A burst of recorded events, past the rate limit and the queue. */
const burst = fc.tuple(fc.constantFrom(...EVENTS), fc.integer({ min: 1, max: 40 })).map(([l, n]) => Buffer.from(`${l}\r\n`.repeat(n)));
const piece = fc.oneof(
  { weight: 1, arbitrary: burst },
  { weight: 8, arbitrary: fc.tuple(line, fc.constantFrom('\r\n', '\n', '', ' \n')).map(([l, end]) => Buffer.from(l + end, 'utf8')) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 3000 }).map((n) => Buffer.alloc(n, 0x61)) }, // long lines, past maxMessageBytes
);

interface Input {
  greet: boolean;
  pieces: Buffer[];
  /** Where the whole stream is cut into chunks (offsets, any byte). */
  cuts: number[];
  /** ms the clock moves before each chunk (the rate limit's clock). */
  steps: number[];
  waiting: number;
  /** Which of the rate and the byte budget are left open (both: the queue's bounds are what holds). */
  open: 'none' | 'rate' | 'bytes' | 'both';
  /** Which of the queue's bounds is left open (each masks the other otherwise). */
  queueOpen: 'count' | 'bytes';
}

const input: fc.Arbitrary<Input> = fc.record({
  greet: fc.oneof({ weight: 4, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }), // mostly past the greeting
  pieces: fc.array(piece, { maxLength: 24 }),
  cuts: fc.array(fc.nat(), { maxLength: 12 }),
  steps: fc.array(fc.integer({ min: 0, max: 400 }), { maxLength: 12 }),
  waiting: fc.integer({ min: 0, max: IDS.length }),
  open: fc.constantFrom('none', 'rate', 'bytes', 'both'),
  queueOpen: fc.constantFrom('count', 'bytes'),
});

/**
 * A reference reading of the whole stream, split on "\n" here rather than as the chunks came: its complete,
 * non-empty lines (UTF-8, trimmed), how many nest too deep, and how many are events after the greeting
 * (stopping where a first message that is not a greeting ends the connection).
 */
function completeLines(bytes: Buffer): { lines: number; deep: number; events: number } {
  let lines = 0;
  let deep = 0;
  let events = 0;
  let greeted = false;
  for (let start = 0, nl = bytes.indexOf(10); nl >= 0; start = nl + 1, nl = bytes.indexOf(10, start)) {
    const l = bytes.subarray(start, nl).toString('utf8').trim();
    if (l === '') continue;
    lines++;
    if (jsonDepthExceeds(l, MAX_JSON_DEPTH)) {
      deep++;
      continue;
    }
    let m: unknown;
    try {
      m = JSON.parse(l);
    } catch {
      continue;
    }
    if (typeof m !== 'object' || m === null || Array.isArray(m)) continue;
    const o = m as Record<string, unknown>;
    if (!greeted) {
      const q = Object.hasOwn(o, 'QMP') ? o.QMP : undefined;
      if (typeof q !== 'object' || q === null || Array.isArray(q)) break;
      greeted = true;
    } else if (Object.hasOwn(o, 'event') && typeof o.event === 'string') events++;
  }
  return { lines, deep, events };
}

function check(inp: Input): void {
  const protoBefore = Object.getOwnPropertyNames(Object.prototype).join(',');
  const stream = Buffer.concat([...(inp.greet ? [Buffer.from(`${GREETING}\r\n`)] : []), ...inp.pieces]);
  const offsets = [...new Set(inp.cuts.map((c) => (stream.length ? c % (stream.length + 1) : 0)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let from = 0;
  for (const at of [...offsets, stream.length]) {
    chunks.push(stream.subarray(from, at));
    from = at;
  }

  let now = 0;
  let fatal: string | null = null;
  const problems = new QmpProblems();
  const limits = { ...LIMITS, ...(inp.open === 'rate' || inp.open === 'both' ? { maxEventsPerS: OPEN } : {}), ...(inp.open === 'bytes' || inp.open === 'both' ? { maxEventBytesPerS: OPEN } : {}),
    ...(inp.queueOpen === 'count' ? { maxQueuedEvents: OPEN } : { maxQueuedEventBytes: OPEN }),
  };
  const h = new QmpLineHandler({ ...limits, problems, nowMs: () => now, onFatal: (why) => (fatal = why) });
  const settled = new Map<string, number>();
  let matched = 0;
  const waiting = IDS.slice(0, inp.waiting);
  for (const id of waiting) {
    settled.set(id, 0);
    h.expect(
      id,
      `cmd-${id}`,
      () => {
        matched++;
        settled.set(id, settled.get(id)! + 1);
      },
      (e) => {
        if (!(e instanceof Error) || !e.message.startsWith(`cmd-${id}: `)) throw new Error(`${id} rejected with ${String(e)}`);
        if (e instanceof QapiError) matched++; // QEMU's error reply (a too-deep reply is a problem, counted there)
        settled.set(id, settled.get(id)! + 1);
      },
    );
  }

  let queued = 0;
  const events: ReturnType<QmpLineHandler['takeEvents']> = [];
  for (const [i, chunk] of chunks.entries()) {
    now += inp.steps[i % Math.max(1, inp.steps.length)] ?? 0;
    h.feed(chunk); // must not throw: a throw fails the property
    if (h.bufferedBytes > LIMITS.maxMessageBytes) throw new Error(`holds ${h.bufferedBytes} bytes of a partial line, over ${LIMITS.maxMessageBytes}`);
    if (h.queuedEvents > limits.maxQueuedEvents) throw new Error(`holds ${h.queuedEvents} events, over ${limits.maxQueuedEvents}`);
    // A queue is full at its byte bound once reached: one event may take it past by its own size.
    if (h.queuedEventBytes > limits.maxQueuedEventBytes + LIMITS.maxEventDataBytes + MAX_EVENT_NAME + 128) throw new Error(`holds ${h.queuedEventBytes} bytes of events`);
    if (i % 3 === 2) {
      const e = h.takeEvents();
      queued += e.length;
      events.push(...e);
    }
  }
  const rest = h.takeEvents();
  queued += rest.length;
  events.push(...rest);
  const deadBefore = h.dead;
  h.fail('end of input');

  // Every waiting command settled exactly once.
  for (const [id, n] of settled) if (n !== 1) throw new Error(`${id} settled ${n} times`);
  // No exception inside the handler.
  if (problems.count('internal')) throw new Error(`internal problem: ${JSON.stringify(problems.snapshot())}`);
  const snap = problems.snapshot();
  for (const [k, n] of Object.entries(snap)) {
    if (!(QMP_PROBLEM_KIND_NAMES as string[]).includes(k)) throw new Error(`unknown problem kind ${k}`);
    if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`problem ${k} counted ${n}`);
  }
  if ((fatal === null) !== (deadBefore === null)) throw new Error(`onFatal ${String(fatal)} but dead ${String(deadBefore)}`);
  // While the connection lived, every line was exactly one thing.
  if (deadBefore === null) {
    const { lines, deep, events: sent } = completeLines(stream);
    // Every event in the stream was taken or dropped, whatever the chunks (a line mis-joined across reads is not).
    if (queued + h.droppedEvents !== sent) throw new Error(`${sent} events in the stream, ${queued} taken and ${h.droppedEvents} dropped`);
    // Every line nested too deep was caught before JSON.parse (parsed, it would have been some other thing).
    if (problems.count('too_deep') !== deep) throw new Error(`${deep} lines nested deeper than ${MAX_JSON_DEPTH}, ${problems.count('too_deep')} counted too_deep`);
    const accounted = (h.greeted ? 1 : 0) + queued + h.droppedEvents + matched + problems.total;
    if (accounted !== lines) throw new Error(`${lines} lines, ${accounted} accounted for (greeted ${h.greeted}, events ${queued}, dropped ${h.droppedEvents}, replies ${matched}, problems ${JSON.stringify(snap)})`);
  }
  // The rate: one second's worth at once, then maxEventsPerS a second.
  if (events.length > Math.floor(limits.maxEventsPerS * (1 + now / 1000))) throw new Error(`${events.length} events taken in ${now} ms, over ${limits.maxEventsPerS}/s`);
  // The byte budget: its burst, its refill over the input's time, and one event's debt at most.
  const costs = events.map((e) => eventRowBytes(e.event, e.data === null ? 0 : e.dataBytes));
  const spent = costs.reduce((a, b) => a + b, 0);
  if (spent > limits.maxEventBytesPerS * (1 + now / 1000) + Math.max(0, ...costs)) throw new Error(`events of ${spent} bytes taken in ${now} ms, over the budget of ${limits.maxEventBytesPerS}/s`);
  for (const e of events) {
    if (typeof e.event !== 'string' || e.event.length > MAX_EVENT_NAME) throw new Error(`event name ${JSON.stringify(e.event).slice(0, 80)}`);
    const data = JSON.stringify(e.data) ?? 'null';
    if (jsonDepthExceeds(data, MAX_JSON_DEPTH)) throw new Error('event data deeper than the limit');
    // Measured here, not taken from the handler's own dataBytes.
    const kept = e.data === null ? 0 : Buffer.byteLength(data, 'utf8');
    if (kept > LIMITS.maxEventDataBytes) throw new Error(`event data of ${kept} bytes kept`);
    if (e.wallNs !== null && e.wallNs < 0n) throw new Error(`negative timestamp ${e.wallNs}`);
  }
  if (Object.getOwnPropertyNames(Object.prototype).join(',') !== protoBefore || ({} as Record<string, unknown>).polluted !== undefined) {
    throw new Error('Object.prototype changed');
  }
}

export function qmpLinesProperty(): fc.IPropertyWithHooks<[Input]> {
  return fc.property(input, check);
}
