// What a guest that is attacked (or attacking) may write on its virtio-serial
// channel, against the guest_agent loop in both channel modes: lines past the
// bound or without end, floods, bytes that are not UTF-8, JSON built to blow
// the parser's stack, forged envelope fields, prototype keys, stalls
// mid-line, reconnect storms, going away, and silence. Each case: the loop
// never throws (it resolves once aborted), every problem is counted, the
// counters agree in the final channel row and in the result, what must still
// arrive arrives, no row is made from a bad line, and every row written
// validates against ROW_SCHEMAS.guest.
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { EpisodeClock } from '../../../src/clock/origin.js';
import { guestAgentConfig } from '../../../src/collectors/guest_agent/config.js';
import { guestLoop, type GuestCounters, type GuestLoopResult } from '../../../src/collectors/guest_agent/run-loop.js';
import { JsonlWriter } from '../../../src/rows/jsonl-writer.js';
import { ROW_SCHEMAS } from '../../../src/rows/registry.js';
import { connectAsQemu, fakeGuestServer, waitFor, type FakeGuestServer, type GuestConn } from '../../helpers/fake-guest.js';
import { settled } from '../../helpers/wait.js';
import { readJsonl, tmpDir } from '../../helpers/tmp.js';

type Row = Record<string, unknown>;
type Mode = 'connect' | 'listen';
const MODES: Mode[] = ['connect', 'listen'];
const MiB = 1 << 20;
const INTERVAL_MS = 50;
const RESTART_MS = 50;

const COUNTERS = [
  'connections',
  'connections_refused',
  'lines',
  'bytes',
  'dropped_oversize',
  'dropped_rate',
  'dropped_invalid_utf8',
  'dropped_invalid_json',
  'dropped_too_deep',
  'dropped_not_object',
  'dropped_byte_rate',
  'dropped_total_cap',
  'bytes_written',
  'dropped_unasked',
] as const satisfies ReadonlyArray<keyof GuestCounters>;

interface Run {
  result: GuestLoopResult;
  rows: Row[];
  /** kind 'line' rows, in order. */
  lines: Row[];
  /** kind 'channel' rows, in order; the last one is written after the abort. */
  channels: Row[];
  reports: string[];
  /** The row file as written. */
  text: string;
}

interface Session {
  socket: string;
  out: string;
  clock: EpisodeClock;
  reports: string[];
  /** connect mode: the fake guest labtel connected to. */
  server: FakeGuestServer | null;
  /** The first connection (null when the session was started without one). */
  guest: GuestConn | null;
  /** The newest channel row flushed so far. */
  channel(): Row | undefined;
  /** Waits until the newest channel row satisfies `pred` (no deadline: a condition never met is the test's timeout). */
  until(pred: (ch: Row) => boolean, what: string): Promise<void>;
  /** Aborts the loop; it must resolve, not throw (a hang is the test's timeout). */
  stop(): Promise<Run>;
}

/** Awaits `p`, naming `what` if the test fails first: no deadline of its own (see helpers/wait.ts). */
const within = <T>(p: Promise<T>, what: string): Promise<T> => settled(p, what);

/** Whole lines flushed so far (the writer may be mid-write: a partial last line is left out). */
function rowsSoFar(file: string): Row[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const end = text.lastIndexOf('\n');
  return end < 0 ? [] : text.slice(0, end).split('\n').map((l) => JSON.parse(l) as Row);
}

const live: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  // A test that failed half-way leaves its loop running: end it before the temp dirs go.
  for (const stop of live.splice(0)) await stop().catch(() => {});
});

/**
 * Starts guestLoop (protocol jsonl) in `mode` against a fake guest: in connect
 * mode a fake server labtel connects to, in listen mode a client connecting
 * to labtel's socket as QEMU would. Resolves once the first connection is up.
 */
async function start(
  mode: Mode,
  cfg: { max_line_bytes?: number; max_lines_per_s?: number } = {},
  opts: { guest?: boolean } = {},
): Promise<Session> {
  const server = mode === 'connect' ? await fakeGuestServer() : null;
  const socket = server ? server.path : path.join(tmpDir('labtel-guest-listen-'), 'guest.sock');
  const out = path.join(tmpDir(), 'telemetry-guest_agent.jsonl');
  const config = guestAgentConfig.parse({ socket, mode, protocol: 'jsonl', interval_ms: INTERVAL_MS, ...cfg });
  const writer = new JsonlWriter(out, { availableInDeployment: false });
  const clock = new EpisodeClock(process.hrtime.bigint());
  const ac = new AbortController();
  const reports: string[] = [];
  const loop = guestLoop({ config, writer, clock, signal: ac.signal, reportError: (m) => reports.push(m), restartDelayMs: RESTART_MS });
  let stopped: Promise<Run> | null = null;
  const stop = (): Promise<Run> =>
    (stopped ??= (async () => {
      ac.abort();
      let result: GuestLoopResult;
      try {
        result = await within(loop, 'guestLoop to end after the abort');
      } finally {
        writer.close();
      }
      const text = fs.readFileSync(out, 'utf8');
      const rows = readJsonl(out);
      return { result, rows, lines: rows.filter((r) => r.kind === 'line'), channels: rows.filter((r) => r.kind === 'channel'), reports, text };
    })());
  live.push(stop);
  let guest: GuestConn | null = null;
  if (opts.guest !== false) guest = server ? await server.connection(0) : await connectAsQemu(socket);
  const channel = () => rowsSoFar(out).findLast((r) => r.kind === 'channel');
  return {
    socket,
    out,
    clock,
    reports,
    server,
    guest,
    channel,
    until: (pred, what) =>
      waitFor(() => {
        const ch = channel();
        return ch !== undefined && pred(ch);
      }, what),
    stop,
  };
}

/** Rows that fail ROW_SCHEMAS.guest or the envelope's rules, with why (empty when all are valid). */
function invalidRows(rows: Row[]): string[] {
  const bad: string[] = [];
  const schema = ROW_SCHEMAS.guest!;
  rows.forEach((r, i) => {
    const p = schema.safeParse(r);
    if (!p.success) bad.push(`row ${i}: ${p.error.issues.map((x) => `${x.path.join('.')}: ${x.message}`).join('; ')}`);
    if (r.source !== 'guest') bad.push(`row ${i}: source ${String(r.source)}`);
    if (r.seq !== i) bad.push(`row ${i}: seq ${String(r.seq)}`);
    if (r.available_in_deployment !== false) bad.push(`row ${i}: available_in_deployment ${String(r.available_in_deployment)}`);
    if (i > 0 && (r.t_mono_ns as number) < (rows[i - 1]!.t_mono_ns as number)) bad.push(`row ${i}: t_mono_ns goes back`);
  });
  // Counters are cumulative: no channel row may show fewer than the one before.
  const ch = rows.filter((r) => r.kind === 'channel');
  for (let i = 1; i < ch.length; i++) {
    for (const k of COUNTERS) if ((ch[i]![k] as number) < (ch[i - 1]![k] as number)) bad.push(`channel row ${i}: ${k} went down`);
  }
  return bad;
}

/** Bytes of the line and qga rows in a row file's text (what bytes_written counts). */
function guestRowBytes(text: string): number {
  const rows = text.split('\n').filter((l) => l.includes('"kind":"line"') || l.includes('"kind":"qga"'));
  return rows.filter((l) => { const k = (JSON.parse(l) as Row).kind; return k === 'line' || k === 'qga'; }).reduce((a, l) => a + Buffer.byteLength(l) + 1, 0);
}

const countersOf = (o: object): Record<string, unknown> => Object.fromEntries(COUNTERS.map((k) => [k, (o as Record<string, unknown>)[k]]));

/**
 * The counters, in the final channel row and in the result (what summary.json
 * gets), are exactly `want`; counters not named are 0.
 */
function expectCounters(run: Run, want: Pick<GuestCounters, 'connections' | 'bytes'> & Partial<GuestCounters>): void {
  const full: GuestCounters = {
    dropped_byte_rate: 0,
    dropped_total_cap: 0,
    bytes_written: guestRowBytes(run.text),
    connections_refused: 0,
    lines: 0,
    dropped_oversize: 0,
    dropped_rate: 0,
    dropped_invalid_utf8: 0,
    dropped_invalid_json: 0,
    dropped_too_deep: 0,
    dropped_not_object: 0,
    dropped_unasked: 0,
    ...want,
  };
  expect(countersOf(run.channels.at(-1)!), 'the final channel row').toEqual(full);
  expect(countersOf(run.result.counters), 'the result (summary.json detail)').toEqual(full);
  expect(run.result.end).toBe('stopped');
  expect(run.result.valueRows).toBe(run.lines.length);
  expect(run.result.disabled).toEqual({});
}

/** A good line the test can recognize in the rows. */
const good = (i: number) => ({ good: i, uptime: 100 + i, cpu: { user: i * 10, idle: 900 } });
const goodLine = (i: number) => JSON.stringify(good(i)) + '\n';

describe.each(MODES)('guest_agent, jsonl, %s mode, against a hostile guest', (mode) => {
  // Guards against: guest fields being altered on the way to the row, and a
  // guest forging envelope fields (source, t_mono_ns, seq, available_in_deployment,
  // null_reasons) or row fields (kind, guest_t, counters) by sending them as keys.
  it('a normal stream: each line a row, the guest\'s object exactly under guest, and its forged envelope fields stay inside it', async () => {
    const s = await start(mode);
    const t0 = s.clock.now();
    const sent = [
      { seq: 0, uptime: 1.5, cpu: { user: 1, system: 2 }, mem: [1, 2, 3] },
      {
        source: 'qmp',
        t_mono_ns: -5,
        seq: 999,
        available_in_deployment: true,
        null_reasons: { guest: 'forged' },
        kind: 'channel',
        guest: { nested: true },
        guest_t: 'forged',
        connected: false,
        lines: 1e9,
      },
      { s: 'é 😀 \n "q" \\ \u0000', lone: '\ud800', n: 0.1, neg: -3, big: 1e21, z: null, b: [true, false, [], {}], t: 42 },
      { ts: '2024-05-01T12:00:00.123456789Z', k: { 'a.b': 1, '': 2, ' ': 3 } },
    ];
    const texts = sent.map((o) => JSON.stringify(o));
    // Three lines in one write (one with CRLF), the fourth cut in two writes.
    const first = `${texts[0]}\n${texts[1]}\r\n${texts[2]}\n`;
    await s.guest!.send(first);
    await s.guest!.send(texts[3]!.slice(0, 10));
    await sleep(100);
    await s.guest!.send(texts[3]!.slice(10) + '\n');
    await s.until((ch) => ch.lines === 4, '4 lines');
    const t1 = s.clock.now();
    const run = await s.stop();
    expect(run.lines).toHaveLength(texts.length);
    expect(run.lines.map((r) => r.guest)).toStrictEqual(texts.map((t) => JSON.parse(t)));
    run.lines.forEach((r, i) => expect(Object.keys(r.guest as object)).toEqual(Object.keys(sent[i]!)));
    expect(run.lines.map((r) => r.guest_t)).toEqual([1.5, null, 42, '2024-05-01T12:00:00.123456789Z']);
    for (const r of run.lines) {
      // The envelope and row fields are labtel's, whatever the guest sent.
      expect(Object.keys(r)).toEqual(['source', 't_mono_ns', 'seq', 'available_in_deployment', 'kind', 'guest', 'guest_t']);
      expect(r).toMatchObject({ source: 'guest', available_in_deployment: false, kind: 'line' });
      expect(r.t_mono_ns as number).toBeGreaterThanOrEqual(t0);
      expect(r.t_mono_ns as number).toBeLessThanOrEqual(t1);
      expect(r).not.toHaveProperty('null_reasons');
    }
    expect(run.rows.map((r) => r.seq)).toEqual(run.rows.map((_, i) => i));
    expect(invalidRows(run.rows)).toEqual([]);
    expectCounters(run, { connections: 1, lines: 4, bytes: Buffer.byteLength(first) + Buffer.byteLength(texts[3]!) + 1 });
  });

  // Guards against: a line past max_line_bytes being kept, cut into pieces
  // that become rows, counted more than once, or costing its size in memory;
  // and the stream not resynchronizing at the next newline. And against an
  // off-by-one: a line of exactly max_line_bytes is a line.
  it('a 2 MiB line (max_line_bytes 1 MiB) is dropped and counted once; lines before and after it, and one of exactly 1 MiB, arrive', async () => {
    const s = await start(mode);
    const exact = `{"pad":"${'p'.repeat(MiB - 10)}"}`;
    expect(Buffer.byteLength(exact)).toBe(MiB);
    // The oversize line looks like JSON: were any piece of it kept, it would make a row.
    const big = `{"big":"${'a'.repeat(2 * MiB)}"}\n`;
    const payload = goodLine(0) + big + goodLine(1) + exact + '\n' + goodLine(2);
    await s.guest!.send(payload);
    await s.until((ch) => ch.lines === 4, '4 lines');
    const run = await s.stop();
    expect(run.lines.map((r) => r.guest)).toEqual([good(0), good(1), { pad: 'p'.repeat(MiB - 10) }, good(2)]);
    expect(invalidRows(run.rows)).toEqual([]);
    expectCounters(run, { connections: 1, lines: 4, bytes: Buffer.byteLength(payload), dropped_oversize: 1 });
  });

  // Guards against: a line that never ends making labtel buffer what arrives
  // (64 MiB here; without a bound, any amount), or counting it once per read.
  it('a 64 MiB stream without a newline: dropped and counted once, nothing held for it, and the good line after the next newline arrives', async () => {
    const s = await start(mode);
    await s.guest!.send(goodLine(0));
    await s.until((ch) => ch.lines === 1, 'the first line');
    const rss0 = process.memoryUsage().rss;
    let peak = rss0;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 5);
    let pumped: { accepted: number; error: string | null };
    try {
      pumped = await within(s.guest!.pump(64 * MiB, MiB, 0x7b), 'the guest to stop sending (labtel hangs up on it)'); // `{` * 64 Mi
      await s.guest!.send('"}\n' + goodLine(1));
      await s.until((ch) => ch.lines === 2, 'the line after the oversize one');
    } finally {
      clearInterval(sampler);
    }
    peak = Math.max(peak, process.memoryUsage().rss);
    expect(pumped).toEqual({ accepted: 64 * MiB, error: null }); // labtel read it all, and did not hang up
    const run = await s.stop();
    expect(run.lines.map((r) => r.guest)).toEqual([good(0), good(1)]);
    // Held for the line: at most max_line_bytes (1 MiB), nothing like the 64 MiB sent. What RSS does
    // grow by is the reads themselves (64 KiB each), garbage until the next GC: 8-21 MiB seen here.
    expect(peak - rss0).toBeLessThan(40 * MiB);
    expect(invalidRows(run.rows)).toEqual([]);
    expectCounters(run, {
      connections: 1,
      lines: 2,
      bytes: Buffer.byteLength(goodLine(0)) + 64 * MiB + 3 + Buffer.byteLength(goodLine(1)),
      dropped_oversize: 1,
    });
  });

  // Guards against: a flood of lines writing rows (and judging lines) without
  // bound, and drops past the rate going uncounted.
  it('rate limit: 5,000 lines at once with max_lines_per_s 100: about 100 accepted (the burst) plus refill, the rest counted in dropped_rate', async () => {
    const N = 5000;
    const s = await start(mode, { max_lines_per_s: 100 });
    const flood = Array.from({ length: N }, (_, i) => `{"i":${i}}\n`).join('');
    const sentAt = performance.now();
    await s.guest!.send(flood);
    await s.until((ch) => (ch.lines as number) + (ch.dropped_rate as number) === N, 'all 5,000 lines accounted for');
    // An upper bound on how long the bucket had to refill while the flood was being read.
    const refillS = (performance.now() - sentAt) / 1000;
    const run = await s.stop();
    const { lines, dropped_rate } = run.result.counters;
    expect(lines + dropped_rate).toBe(N);
    expect(lines).toBeGreaterThanOrEqual(100); // the burst: one second's worth
    expect(lines).toBeLessThanOrEqual(100 + Math.ceil(refillS * 100) + 1);
    expect(run.lines).toHaveLength(lines);
    // The burst is the first 100 lines sent, in order; nothing is written twice or out of order.
    const order = run.lines.map((r) => (r.guest as { i: number }).i);
    expect(order.length).toBeGreaterThanOrEqual(100);
    expect(order.slice(0, 100)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(order.every((v, k) => k === 0 || v > order[k - 1]!)).toBe(true);
    expect(invalidRows(run.rows)).toEqual([]);
    expectCounters(run, { connections: 1, lines, dropped_rate, bytes: Buffer.byteLength(flood) });
  });

  // Guards against: a bad line ending the connection, becoming a row, being
  // counted under the wrong reason, or (100,000 levels of nesting) exhausting
  // the parser's stack in a root process.
  it('invalid UTF-8, invalid JSON, 100,000-deep nesting and JSON that is not an object: each counted in its own counter, the good lines between them arrive', async () => {
    const s = await start(mode);
    const deep = '{"a":'.repeat(100_000) + '1' + '}'.repeat(100_000);
    expect(deep.length).toBeLessThan(MiB); // too deep, not too long
    const payload = Buffer.concat([
      Buffer.from(goodLine(0)),
      Buffer.concat([Buffer.from('{"s":"'), Buffer.from([0xc0, 0xaf]), Buffer.from('"}\n')]), // overlong "/"
      Buffer.concat([Buffer.from('{"s":"'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('"}\r\n')]), // a lone surrogate as bytes
      Buffer.from(goodLine(1)),
      Buffer.from('{"a":1,}\n{"a":NaN}\n{"a":1}{"b":2}\n'),
      Buffer.from(goodLine(2)),
      Buffer.from(deep + '\n'),
      Buffer.from('['.repeat(65) + ']'.repeat(65) + '\n'),
      Buffer.from(goodLine(3)),
      Buffer.from('[1,2]\n42\n"str"\r\nnull\n[{"good":99}]\n'),
      Buffer.from(goodLine(4)),
    ]);
    await s.guest!.send(payload);
    await s.until((ch) => ch.lines === 5, '5 lines');
    const run = await s.stop();
    // No row from any bad line: only the good ones, in order.
    expect(run.lines.map((r) => r.guest)).toEqual([0, 1, 2, 3, 4].map(good));
    expect(invalidRows(run.rows)).toEqual([]);
    expectCounters(run, {
      connections: 1,
      lines: 5,
      bytes: payload.length,
      dropped_invalid_utf8: 2,
      dropped_invalid_json: 3,
      dropped_too_deep: 2,
      dropped_not_object: 5,
    });
  });

  // Guards against: guest keys reaching Object.prototype of the agent, or
  // being dropped instead of kept as the guest's data.
  it('__proto__ / constructor keys: rows written with them as plain data, Object.prototype untouched', async () => {
    const protoBefore = Object.getOwnPropertyNames(Object.prototype).sort();
    const s = await start(mode);
    const l1 = '{"__proto__":{"polluted":"yes","t":5},"constructor":{"prototype":{"polluted":"yes"}}}';
    const l2 = '{"__proto__":null,"hasOwnProperty":1,"toString":"x","toJSON":"y","valueOf":{},"t":3}';
    await s.guest!.send(`${l1}\n${l2}\n`);
    await s.until((ch) => ch.lines === 2, '2 lines');
    const run = await s.stop();
    expect(run.lines).toHaveLength(2);
    const [g1, g2] = run.lines.map((r) => r.guest as object);
    expect(Object.keys(g1!)).toEqual(['__proto__', 'constructor']);
    expect(Object.getOwnPropertyDescriptor(g1, '__proto__')?.value).toEqual({ polluted: 'yes', t: 5 });
    expect(Object.keys(g2!)).toEqual(['__proto__', 'hasOwnProperty', 'toString', 'toJSON', 'valueOf', 't']);
    // The row file holds the guest's objects as sent.
    expect(run.text).toContain(`"guest":${l1},"guest_t":null}`);
    expect(run.text).toContain(`"guest":${l2},"guest_t":3}`);
    expect(invalidRows(run.rows)).toEqual([]);
    expectCounters(run, { connections: 1, lines: 2, bytes: l1.length + l2.length + 2 });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect({}.constructor).toBe(Object);
    expect(Object.getPrototypeOf({})).toBe(Object.prototype);
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(protoBefore);
  });

  // Guards against: a guest that stops mid-line holding up the loop (no
  // channel rows while it waits), half a line being written or judged as a
  // line, and the rest of it being taken as a separate line when it comes.
  it('a stall mid-line (2 s without a newline): channel rows keep coming, nothing is written for it, and the rest completes it as one line', async () => {
    const s = await start(mode);
    await s.guest!.send(goodLine(0));
    await s.until((ch) => ch.lines === 1, 'the first line');
    const head = `{"stalled":"${'x'.repeat(1000)}`;
    await s.guest!.send(head);
    const t0 = s.clock.now();
    await sleep(2000);
    const t1 = s.clock.now();
    const during = rowsSoFar(s.out).filter((r) => (r.t_mono_ns as number) > t0 && (r.t_mono_ns as number) <= t1);
    const tail = 'yyy", "uptime": 7}\n';
    await s.guest!.send(tail);
    await s.until((ch) => ch.lines === 2, 'the completed line');
    const run = await s.stop();
    // 2 s at 50 ms: about 40 channel rows were due; a loop held up would have written none.
    expect(during.length).toBeGreaterThanOrEqual(10);
    expect(during.every((r) => r.kind === 'channel')).toBe(true);
    for (const ch of during) expect(countersOf(ch)).toMatchObject({ lines: 1, dropped_oversize: 0, dropped_invalid_json: 0, connections: 1 });
    expect(run.lines.map((r) => r.guest)).toEqual([good(0), { stalled: 'x'.repeat(1000) + 'yyy', uptime: 7 }]);
    expect(run.lines[1]!.guest_t).toBe(7);
    expect(invalidRows(run.rows)).toEqual([]);
    expectCounters(run, { connections: 1, lines: 2, bytes: Buffer.byteLength(goodLine(0)) + head.length + tail.length });
  });

  // Guards against: a silent guest being taken for a working one (valueRows
  // would make the agent report the collector ok), or the loop writing
  // anything but its counters.
  it('a guest that sends nothing: only channel rows, valueRows 0', async () => {
    const s = await start(mode);
    await s.until((ch) => ch.connections === 1 && ch.connected === true, 'a channel row of the connection');
    await sleep(300);
    const run = await s.stop();
    expect(run.rows.length).toBeGreaterThanOrEqual(3);
    expect(run.rows.every((r) => r.kind === 'channel')).toBe(true);
    expect(run.lines).toEqual([]);
    expect(run.result.valueRows).toBe(0);
    expect(invalidRows(run.rows)).toEqual([]);
    expectCounters(run, { connections: 1, bytes: 0 });
    expect(run.reports).toEqual([]);
    // Connected while it ran; the last row, written once labtel closed the channel, says it is closed.
    const open = run.channels.slice(run.channels.findIndex((r) => r.connected === true), -1);
    expect(open.length).toBeGreaterThanOrEqual(2);
    expect(open.every((r) => r.connected === true)).toBe(true);
    expect(run.channels.at(-1)!.connected).toBe(false);
  });
});

describe('guest_agent, listen mode: connections labtel did not ask for', () => {
  // Guards against: a second peer on the channel socket (the guest's channel is
  // one stream) being served alongside the first, interleaving lines, or
  // displacing it.
  it('a second connection while one is open is refused and counted; the first keeps being served', async () => {
    const s = await start('listen');
    await s.guest!.send(goodLine(0));
    await s.until((ch) => ch.lines === 1, 'the first line');
    const intruder = await connectAsQemu(s.socket);
    void intruder.send('{"intruder":1}\n');
    await within(intruder.closed, 'labtel to close the second connection');
    await s.guest!.send(goodLine(1));
    await s.until((ch) => ch.lines === 2 && ch.connections_refused === 1, 'the second line and the refusal');
    const run = await s.stop();
    expect(run.lines.map((r) => r.guest)).toEqual([good(0), good(1)]);
    expect(run.reports).toEqual([expect.stringMatching(/^guest_agent: refused a connection on .*guest\.sock \(one is open; 1 refused so far\)$/)]);
    expect(invalidRows(run.rows)).toEqual([]);
    expectCounters(run, { connections: 1, connections_refused: 1, lines: 2, bytes: Buffer.byteLength(goodLine(0) + goodLine(1)) });
  });

  // Guards against: a guest (or whatever holds the QEMU side) reconnecting in
  // a tight loop making labtel serve without bound, the loop dying of it, or
  // the channel staying refused forever once the storm is over.
  it('a reconnect storm (50 connections made and dropped at once): at most 5 accepted per 10 s, the rest refused and counted, and a connection after the window is served', async () => {
    const s = await start('listen', {}, { guest: false });
    for (let i = 0; i < 50; i++) (await connectAsQemu(s.socket)).close();
    await s.until(
      (ch) => (ch.connections as number) + (ch.connections_refused as number) === 50 && ch.connected === false,
      'all 50 connections seen and closed',
    );
    expect(s.channel()!.connections as number).toBeGreaterThanOrEqual(1);
    expect(s.channel()!.connections as number).toBeLessThanOrEqual(5);
    // Storm connections refused because the one before was still open (its
    // close not yet seen) leave room in the window: fill it, one at a time,
    // until labtel refuses with none open. That refusal must come at 5.
    let attempts = 50;
    for (;;) {
      const before = s.channel()!;
      const c = await connectAsQemu(s.socket);
      attempts++;
      await s.until(
        (ch) => ch.connections !== before.connections || ch.connections_refused !== before.connections_refused,
        'the connection accepted or refused',
      );
      if (s.channel()!.connections_refused !== before.connections_refused) {
        await within(c.closed, 'labtel to close a refused connection');
        break;
      }
      expect(s.channel()!.connections as number, 'accepted within the window').toBeLessThanOrEqual(5);
      c.close();
      await s.until((ch) => ch.connected === false, 'the connection closed');
    }
    expect(s.channel()!.connections).toBe(5);
    // Still within the window, with none open: refused for the storm, and what it sends is never read.
    const late = await connectAsQemu(s.socket);
    attempts++;
    void late.send(goodLine(98));
    await within(late.closed, 'labtel to close a connection within the storm window');
    await s.until((ch) => ch.connections_refused === attempts - 5, 'the refusal counted');
    // 10 s later (Date.now is what the window is measured with): served again.
    const realNow = Date.now.bind(Date);
    const clockSpy = vi.spyOn(Date, 'now').mockImplementation(() => realNow() + 10_500);
    let after: GuestConn;
    try {
      after = await connectAsQemu(s.socket);
      await after.send(goodLine(1));
      await s.until((ch) => ch.lines === 1, 'a line on the connection after the window');
    } finally {
      clockSpy.mockRestore();
    }
    expect(after.gone).toBe(false);
    const run = await s.stop();
    const refused = attempts - 5;
    expect(run.lines.map((r) => r.guest)).toEqual([good(1)]);
    expect(run.reports.length).toBeGreaterThanOrEqual(1);
    expect(run.reports.every((m) => /^guest_agent: refused a connection on .*guest\.sock \((one is open|more than 5 in 10 s); \d+ refused so far\)$/.test(m))).toBe(true);
    expect(invalidRows(run.rows)).toEqual([]);
    expectCounters(run, { connections: 6, connections_refused: refused, lines: 1, bytes: Buffer.byteLength(goodLine(1)) });
  });
});

describe('guest_agent, connect mode: the guest goes away', () => {
  // Guards against: the guest's end of the channel closing (QEMU restarted,
  // chardev reopened) ending the collector, going unreported, or the loop
  // never reconnecting once the socket is back.
  it('the guest closes and comes back: reported, reconnected, rows from both connections', async () => {
    const s = await start('connect');
    await s.guest!.send(goodLine(0));
    await s.until((ch) => ch.lines === 1, 'the first line');
    await s.server!.down();
    await waitFor(() => s.reports.length >= 1, 'the report of the closed channel');
    await s.until((ch) => ch.connected === false, 'a channel row while disconnected');
    await sleep(300); // attempts fail meanwhile (the socket is gone): the loop backs off and retries
    await s.server!.up();
    const second = await s.server!.connection(1);
    await second.send(goodLine(1));
    await s.until((ch) => ch.lines === 2 && ch.connected === true, 'the line on the second connection');
    const run = await s.stop();
    expect(run.lines.map((r) => r.guest)).toEqual([good(0), good(1)]);
    expect(run.reports).toEqual([`guest_agent: the guest channel ${s.socket} closed; reconnecting in ${RESTART_MS} ms`]);
    // The channel rows show the gap: connected, then not, then connected again.
    const states = run.channels.map((r) => r.connected).filter((v, i, a) => i === 0 || v !== a[i - 1]);
    expect(states.slice(0, 3)).toEqual([true, false, true]);
    expect(invalidRows(run.rows)).toEqual([]);
    expectCounters(run, { connections: 2, lines: 2, bytes: Buffer.byteLength(goodLine(0) + goodLine(1)) });
  });
});
