// What a QEMU that is broken, or compromised from inside the guest, may send
// on its QMP socket, against the client and the collector's loop: silence,
// garbage, replies nobody asked for, oversized lines, event floods, hang-ups
// mid-command, hostile names and timestamps, values that are not counters.
// Each case: the loop never throws (it resolves once aborted), the problem is
// reported in words, what must still arrive still arrives, and every row
// written validates against ROW_SCHEMAS.
import { describe, expect, it } from 'vitest';
import { QmpClient } from '../../../src/qmp/client.js';
import { ROW_SCHEMAS } from '../../../src/rows/registry.js';
import {
  BLOCKSTATS,
  CPUS_FAST,
  GREETING,
  STATUS,
  defaultReply,
  errorReply,
  eventLine,
  fakeQmp,
  okReply,
  qemuJson,
  runQmpLoop,
  type LoopRun,
} from '../../helpers/fake-qmp.js';

type Row = Record<string, unknown>;
const MAX = 10 << 20;

/** Rows that fail their ROW_SCHEMAS entry, with why (empty when all are valid). */
function invalidRows(rows: Row[]): string[] {
  const bad: string[] = [];
  const seqs = new Map<unknown, number>();
  for (const r of rows) {
    const schema = ROW_SCHEMAS[r.source as 'qmp' | 'qmp_event'];
    if (r.source !== 'qmp' && r.source !== 'qmp_event') bad.push(`unexpected source ${String(r.source)}`);
    else if (!schema) bad.push(`no schema for ${r.source}`);
    else {
      const p = schema.safeParse(r);
      if (!p.success) bad.push(`${r.source} seq ${String(r.seq)}: ${p.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    }
    const want = seqs.get(r.source) ?? 0;
    if (r.seq !== want) bad.push(`${String(r.source)} seq ${String(r.seq)} where ${want} was next`);
    seqs.set(r.source, want + 1);
  }
  return bad;
}

const own = (o: unknown, k: string): unknown => Object.getOwnPropertyDescriptor(o, k)?.value;
const reasonsOf = (r: Row) => (r.null_reasons ?? {}) as Record<string, string>;
const connectProblems = (reports: readonly string[]) => reports.filter((m) => /cannot connect|reconnecting/.test(m));

describe('QMP against a hostile QEMU (fake QMP server)', () => {
  // Guards against: a QMP socket that accepts but never greets (QEMU serves one
  // client at a time; a second one waits silently) hanging the collector, or it
  // retrying in a tight loop.
  it('no greeting: connect fails with the one-client hint, the loop retries with backoff, and writes no rows', async () => {
    const fake = await fakeQmp({ greeting: null });
    const run = await runQmpLoop(fake, () => fake.connections >= 3);
    expect(run.met).toBe(true);
    const msg = (ms: number) =>
      `qmp: cannot connect: ${fake.path}: no QMP greeting within 300 ms (QEMU serves one client per QMP socket: is another client connected?); retrying in ${ms} ms`;
    expect(run.reports.length).toBeGreaterThanOrEqual(2);
    expect(run.reports.slice(0, 2)).toEqual([msg(50), msg(100)]);
    expect(run.reports.every((m) => m.startsWith(`qmp: cannot connect: ${fake.path}: no QMP greeting within 300 ms`))).toBe(true);
    // Backoff: each attempt waits out the greeting timeout plus a doubling delay, as the reports say
    // (the gaps themselves are a figure for a benchmark, not a threshold in a test).
    expect(fake.commands).toEqual([]); // nothing is sent to a peer that never greeted
    expect(run.result).toMatchObject({ end: 'stopped', connections: 0, valueRows: 0, events: 0, qemuVersion: null });
    expect(run.rows).toEqual([]);
  });

  // Guards against: a peer that is not QEMU's QMP (or is out of step) being
  // taken as connected, and the reason being lost on the way to the summary.
  it('a first message that is not a greeting: reported with what was sent, the connect fails with that reason, the loop retries', async () => {
    const first = '{"return": {}, "id": "labtel-1"}';
    const fake = await fakeQmp({ greeting: `${first}\r\n` });
    const run = await runQmpLoop(fake, (r) => fake.connections >= 2 && connectProblems(r).length >= 2);
    expect(run.met).toBe(true);
    expect(run.reports[0]).toBe(`qmp: QMP's first message is not a greeting: ${JSON.stringify(first)} (bad_greeting: the first; later ones are only counted)`);
    expect(connectProblems(run.reports).length).toBeGreaterThanOrEqual(2); // one per attempt, each attempt retried
    expect(fake.commands).toEqual([]); // no qmp_capabilities to a peer that did not greet
    expect(run.result.connections).toBe(0);
    expect(run.rows).toEqual([]);
    expect(connectProblems(run.reports)[0]).toMatch(/^qmp: cannot connect: (.*: )?QEMU sent something other than a QMP greeting first; retrying in 50 ms$/);
  });

  it.each([
    ['an event', eventLine('STOP')],
    ['a reply', '{"return": {}}\r\n'],
    ['a QMP key that is not an object', '{"QMP": 7}\r\n'],
  ])('client: %s before the greeting makes connect() reject with that reason', async (_what, line) => {
    const fake = await fakeQmp({ greeting: line });
    const problems: string[] = [];
    const connecting = QmpClient.connect({ path: fake.path, greetingTimeoutMs: 300, onProblem: (m) => problems.push(m) });
    await expect(connecting).rejects.toThrow();
        expect(problems).toEqual([`QMP's first message is not a greeting: ${JSON.stringify(line.trim())}`]);
    expect(fake.commands).toEqual([]);
    await expect(connecting).rejects.toThrow(/QEMU sent something other than a QMP greeting first/);
  });

  it('client: a QEMU that hangs up before its greeting makes connect() say so', async () => {
    const fake = await fakeQmp({ greeting: null });
    fake.onConnect((c) => c.close());
    // Told by the hang-up, not by the greeting timeout: that is an hour here, past the test's own timeout.
    const connecting = QmpClient.connect({ path: fake.path, greetingTimeoutMs: 3_600_000 });
    await expect(connecting).rejects.toThrow(/QEMU closed the QMP connection before its greeting/);
  });

  // Guards against: one garbage line (a torn write, a hostile QEMU) ending the
  // connection or the polling; and against it going unnoticed.
  it('garbage that is not JSON and JSON that is not an object: reported, and polling carries on with valid rows', async () => {
    const fake = await fakeQmp();
    const junk = ['this is not json', '[1,2]', '"x"', '42', '{"QMP": unterminated'];
    fake.on('query-status', (req) => (req.n === 2 ? junk.map((l) => `${l}\r\n`).join('') + defaultReply(req) : undefined));
    const run = await runQmpLoop(fake, () => fake.count('query-status') >= 5);
    expect(run.met).toBe(true);
    // One report per kind, the first of it, whatever the count.
    expect(run.reports).toEqual([
      'qmp: QMP sent a line that is not JSON: "this is not json" (not_json: the first; later ones are only counted)',
      'qmp: QMP sent JSON that is not an object: "[1,2]" (not_object: the first; later ones are only counted)',
      'qmp: problems in what QEMU sent over the episode (each reported once): not_json 2, not_object 3', // once, as the loop ends
    ]);
    expect(run.qmp.at(-1)!.problems).toEqual({ not_json: 2, not_object: 3 });
    expect(run.result.connections).toBe(1);
    expect(run.qmp.length).toBeGreaterThanOrEqual(4);
    // Every poll is complete, including the one whose reply came after the garbage.
    for (const r of run.qmp) expect(r).toMatchObject({ status: 'prelaunch', running: false, vcpus: [{ cpu_index: 0, thread_id: 5574, qom_path: '/machine/unattached/device[0]' }] });
    expect(run.result.valueRows).toBe(run.qmp.length);
    expect(invalidRows(run.rows)).toEqual([]);
  });

  it('client: every line that is not a JSON object is counted, the first of each kind reported, and commands still work', async () => {
    const fake = await fakeQmp();
    const problems: string[] = [];
    const c = await QmpClient.connect({ path: fake.path, greetingTimeoutMs: 300, commandTimeoutMs: 500, onProblem: (m) => problems.push(m) });
    expect(c.version).toBe('7.2.22');
    fake.conns[0]!.send('this is not json\r\n[1,2]\r\n"x"\r\n42\r\n\r\n{"neither": "event nor reply"}\r\n');
    await expect(c.execute('query-status')).resolves.toEqual(STATUS);
    expect(c.badLines).toBe(5);
    expect(problems).toEqual([
      'QMP sent a line that is not JSON: "this is not json"',
      'QMP sent JSON that is not an object: "[1,2]"',
      `QMP sent a message that is neither an event nor a reply: ${JSON.stringify('{"neither": "event nor reply"}')}`,
    ]);
    expect(c.problems.snapshot()).toEqual({ not_json: 1, not_object: 3, neither_event_nor_reply: 1 });
    c.close();
    await expect(c.closed).resolves.toBe('closed by labtel');
  });

  // Guards against: replies the client did not ask for being matched to a
  // pending command (wrong values in a row), or a missing reply stalling polling.
  it('an error with no id, replies with no or an unknown id, and a reply under a wrong id: reported, polling continues', async () => {
    const fake = await fakeQmp();
    fake.on('query-status', (req) =>
      req.n === 2 ? errorReply(undefined, 'GenericError', 'boom') + okReply('not-ours', {}) + okReply(undefined, {}) + defaultReply(req) : undefined,
    );
    // The real answer under an id nobody asked for: the real command gets no reply.
    fake.on('query-blockstats', (req) => (req.n === 2 ? okReply('labtel-999999', BLOCKSTATS) : undefined));
    const run = await runQmpLoop(fake, () => fake.count('query-blockstats') >= 4);
    expect(run.met).toBe(true);
    // The first of each kind, in words; the others of the kind only counted.
    expect(run.reports).toContain('qmp: QMP sent an error ("boom") without an id (no_id: the first; later ones are only counted)');
    expect(run.reports.filter((m) => /^qmp: QMP sent a reply for an unknown id \\?"not-ours\\?" \(unknown_id: the first/.test(m))).toHaveLength(1);
    // The reply under "labtel-999999" is the same kind of problem: counted, not reported again.
    expect(run.reports.filter((m) => m.includes('labtel-999999'))).toEqual([]);
    expect(run.qmp.at(-1)!.problems).toEqual({ no_id: 2, unknown_id: 2 });
    expect(connectProblems(run.reports)).toEqual([]);
    expect(run.result.connections).toBe(1);
    // The poll whose blockstats never came has block null and says why; the others have the device.
    const timedOut = run.qmp.filter((r) => r.block === null);
    expect(timedOut).toHaveLength(1);
    expect(reasonsOf(timedOut[0]!).block).toBe("query-blockstats: no reply before the poll's 500 ms were spent"); // one command timeout per poll in all
    expect(timedOut[0]!.status).toBe('prelaunch');
    const fine = run.qmp.filter((r) => r.block !== null);
    expect(fine.length).toBeGreaterThanOrEqual(2);
    for (const r of fine) expect(Object.keys(r.block as object)).toEqual(['drive0']);
    expect(invalidRows(run.rows)).toEqual([]);
  });

  it('client: replies under an id nobody asked for are counted (the first reported), and the command they displaced times out', async () => {
    const fake = await fakeQmp();
    fake.on('query-status', (req) => okReply(`${String(req.id)}-not`, {}) + okReply(7, {}) + errorReply('x', 'GenericError', 'late') + okReply(null, {}));
    const problems: string[] = [];
    const c = await QmpClient.connect({ path: fake.path, greetingTimeoutMs: 300, commandTimeoutMs: 200, onProblem: (m) => problems.push(m) });
    await expect(c.execute('query-status')).rejects.toThrow('query-status: no reply within 200 ms');
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^QMP sent a reply for an unknown id .*labtel-2-not/);
    expect(c.problems.snapshot()).toEqual({ unknown_id: 4 });
    await expect(c.execute('query-cpus-fast')).resolves.toEqual(CPUS_FAST); // still usable
    c.close();
  });

  // Guards against: a line that never ends making the agent buffer without bound.
  it('an 11 MiB line without a newline: disconnects with the size in the report, reconnects, and rows come from the new connection', async () => {
    const fake = await fakeQmp();
    fake.on('query-status', (req) => (req.n === 1 ? Buffer.alloc(11 << 20, 0x61) : undefined));
    const run = await runQmpLoop(fake, () => fake.count('query-status', 1) >= 3);
    expect(run.met).toBe(true);
    const first = /^qmp: QEMU sent a QMP message of more than 10485760 bytes \((\d+) without a line end\); disconnected \(too_long: the first; later ones are only counted\)$/.exec(run.reports[0] ?? '');
    expect(first, run.reports[0]).not.toBeNull();
    const bytes = Number(first![1]);
    expect(bytes).toBeGreaterThan(MAX);
    expect(bytes).toBeLessThanOrEqual(MAX + (64 << 10)); // it stopped at the first read past the limit
    expect(run.reports[1]).toBe(`qmp: QEMU sent a QMP message of more than 10485760 bytes (${bytes} without a line end); disconnected; reconnecting in 50 ms`);
    for (const r of run.qmp) expect(r.problems).toEqual({ too_long: 1 });
    expect(run.result.connections).toBeGreaterThanOrEqual(2);
    expect(run.qmp.length).toBeGreaterThanOrEqual(2);
    for (const r of run.qmp) expect(r.status).toBe('prelaunch');
    expect(invalidRows(run.rows)).toEqual([]);
  });

  // Guards against: memory growing with what QEMU sends (the bound is 10 MiB, not "whatever arrives").
  it('200 MiB without a newline: the client hangs up after about 10 MiB and memory stays bounded', async () => {
    const fake = await fakeQmp();
    const problems: string[] = [];
    const c = await QmpClient.connect({ path: fake.path, greetingTimeoutMs: 300, commandTimeoutMs: 500, onProblem: (m) => problems.push(m) });
    const rss0 = process.memoryUsage().rss;
    let peak = rss0;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 5);
    let pumped: { accepted: number; error: string | null };
    try {
      pumped = await fake.conns[0]!.pump(200 << 20); // ends when the client hangs up (or after all 200 MiB: checked below)
    } finally {
      clearInterval(sampler);
    }
    peak = Math.max(peak, process.memoryUsage().rss);
    const why = await c.closed;
    expect(why).toMatch(/^QEMU sent a QMP message of more than 10485760 bytes \(\d+ without a line end\); disconnected$/);
    expect(problems).toEqual([why]);
    // The server's writes failed once the client hung up, long before 200 MiB.
    expect(pumped.error).not.toBeNull();
    expect(pumped.accepted).toBeGreaterThanOrEqual(MAX);
    expect(pumped.accepted).toBeLessThanOrEqual(20 << 20);
    expect(peak - rss0).toBeLessThan(100 << 20);
    await expect(c.execute('query-status')).rejects.toThrow(`query-status: ${why}`);
  });

  // Guards against: a flood of events taking unbounded memory, crashing the
  // loop, or events silently vanishing from the accounting.
  it('an event flood (50,000 as fast as possible): the loop survives and rows + dropped account for every event', async () => {
    const N = 50_000;
    const now = Date.now();
    const flood = Array.from({ length: N }, (_, i) =>
      eventLine(i % 2 ? 'BLOCK_IO_ERROR' : 'RTC_CHANGE', i % 2 ? { i, device: 'drive0', operation: 'write', action: 'report', nospace: false } : { i, offset: -1 }, {
        seconds: Math.floor(now / 1000),
        microseconds: (now % 1000) * 1000,
      }),
    ).join('');
    const fake = await fakeQmp();
    fake.on('query-status', (req, conn) => {
      if (req.n === 1) conn.send(flood); // all before the first reply, on the same socket
      return undefined;
    });
    const run = await runQmpLoop(fake, () => fake.count('query-status') >= 3, { commandTimeoutMs: 5000 });
    expect(run.met).toBe(true);
    expect(connectProblems(run.reports)).toEqual([]);
    expect(run.result.connections).toBe(1);
    expect(run.qmp.length).toBeGreaterThanOrEqual(2);
    expect(run.result.events + run.result.eventsDropped).toBe(N);
    expect(run.events).toHaveLength(run.result.events);
    expect(run.qmp.at(-1)!.events_dropped).toBe(run.result.eventsDropped);
    // Written in the order sent, none twice.
    const order = run.events.map((e) => (e.data as { i: number }).i);
    expect(order.length).toBeGreaterThan(0);
    expect(order.every((v, k) => k === 0 || v > order[k - 1]!)).toBe(true);
    expect(run.events.every((e) => e.time_source === 'qemu')).toBe(true);
    expect(invalidRows(run.rows)).toEqual([]);
  });

  it('client: events beyond maxQueuedEvents are dropped and counted, the oldest kept', async () => {
    const fake = await fakeQmp();
    let notified = 0;
    const c = await QmpClient.connect({ path: fake.path, greetingTimeoutMs: 300, commandTimeoutMs: 2000, maxQueuedEvents: 100, onEvents: () => notified++ });
    fake.conns[0]!.send(Array.from({ length: 1000 }, (_, i) => eventLine('RTC_CHANGE', { i })).join(''));
    await c.execute('query-status'); // its reply comes after every event
    const events = c.takeEvents();
    expect(events.map((e) => (e.data as { i: number }).i)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(c.droppedEvents).toBe(900);
    expect(notified).toBe(1);
    c.close();
  });

  // Guards against: QEMU going away mid-command (crash, restart) ending the
  // collector or leaving it waiting on a reply that never comes.
  it('close mid-command: reported, the loop reconnects, and rows continue after the reconnect', async () => {
    const fake = await fakeQmp();
    fake.closeOn('query-blockstats', 1);
    const run = await runQmpLoop(fake, () => fake.connections >= 2 && fake.count('query-status', 1) >= 3);
    expect(run.met).toBe(true);
    const reconnect = 'qmp: QEMU closed the QMP connection; reconnecting in 50 ms';
    expect(run.reports).toContain(reconnect);
    expect(run.result.connections).toBe(2);
    expect(run.result.qemuVersion).toBe('7.2.22');
    expect(run.qmp.length).toBeGreaterThanOrEqual(2); // all from the second connection: the first poll never finished
    for (const r of run.qmp) expect(Object.keys(r.block as object)).toEqual(['drive0']);
    expect(invalidRows(run.rows)).toEqual([]);
    expect(run.reports.filter((m) => m !== reconnect)).toEqual([]);
  });

  // Guards against: names QEMU chooses (devices, statistics, vCPU paths, event
  // data keys) reaching Object.prototype of the agent through assignment.
  it('prototype pollution: __proto__ / constructor as device, statistic, vCPU and event data names are kept as data, nothing is polluted', async () => {
    const protoBefore = Object.getOwnPropertyNames(Object.prototype).sort();
    const stats = qemuJson(BLOCKSTATS[0]!.stats);
    const fake = await fakeQmp();
    fake.on('query-blockstats', (req) => `{"return": [{"device": "__proto__", "stats": ${stats}}, {"device": "constructor", "stats": ${stats}}, {"device": "", "qdev": "prototype", "stats": {"__proto__": {"rd_bytes": 5}, "rd_bytes": 7}}], "id": ${JSON.stringify(req.id)}}\r\n`);
    fake.on('query-stats-schemas', (req) => okReply(req.id, [{ target: 'vm', stats: [] }, { target: 'vcpu', stats: [] }]));
    fake.on('query-stats', (req) =>
      (req.arguments as { target?: string }).target === 'vm'
        ? `{"return": [{"provider": "kvm", "stats": [{"name": "__proto__", "value": 1}, {"name": "constructor", "value": 2}, {"name": "exits", "value": 3}]}], "id": ${JSON.stringify(req.id)}}\r\n`
        : `{"return": [{"provider": "kvm", "qom-path": "__proto__", "stats": [{"name": "__proto__", "value": [1, 2]}, {"name": "toString", "value": true}]}], "id": ${JSON.stringify(req.id)}}\r\n`,
    );
    fake.on('query-status', (req, conn) => {
      if (req.n === 1) {
        conn.send(eventLine('__proto__', undefined).replace(/\}\r\n$/, ', "data": {"__proto__": {"polluted": "yes"}, "constructor": {"prototype": {"polluted": "yes"}}}}\r\n'));
        conn.send(eventLine('constructor', undefined).replace(/\}\r\n$/, ', "data": {"__proto__": null, "hasOwnProperty": 1}}\r\n'));
      }
      return undefined;
    });
    const run = await runQmpLoop(fake, () => fake.count('query-status') >= 3);
    expect(run.met).toBe(true);
    expect(run.reports).toEqual([]);
    expect(run.qmp.length).toBeGreaterThanOrEqual(2);
    for (const r of run.qmp) {
      expect(Object.keys(r.block as object).sort()).toEqual(['__proto__', 'constructor', 'prototype']);
      expect(own(own(r.block, '__proto__'), 'rd_bytes')).toBe(BLOCKSTATS[0]!.stats.rd_bytes);
      expect(own(own(r.block, 'prototype'), 'rd_bytes')).toBe(7);
      expect(own(r.kvm_vm, '__proto__')).toBe(1);
      expect(own(r.kvm_vm, 'constructor')).toBe(2);
      expect(own(r.kvm_vm, 'exits')).toBe(3);
      expect(own(own(r.kvm_vcpu, '__proto__'), '__proto__')).toEqual([1, 2]);
      expect(own(own(r.kvm_vcpu, '__proto__'), 'toString')).toBe(true);
    }
    expect(run.events.map((e) => e.event)).toEqual(['__proto__', 'constructor']);
    expect(Object.keys(run.events[0]!.data as object)).toEqual(['__proto__', 'constructor']);
    expect(own(own(run.events[0]!.data, '__proto__'), 'polluted')).toBe('yes');
    expect(invalidRows(run.rows)).toEqual([]);
    // Nothing reached the prototypes of this process.
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(protoBefore);
    expect(Object.getPrototypeOf({})).toBe(Object.prototype);
    expect({}.constructor).toBe(Object);
  });

  // Guards against: a timestamp QEMU did not really send (absent, malformed,
  // or absurd) placing an event anywhere on the episode clock, or making a row
  // its schema rejects.
  it('hostile event timestamps: time_source "received", qemu_wall_ns null, with a reason', async () => {
    const now = Date.now();
    const sec = Math.floor(now / 1000);
    const hostile: Array<[string, string]> = [
      ['missing', '{"event": "T_MISSING"}'],
      ['null', '{"timestamp": null, "event": "T_NULL"}'],
      ['a string', '{"timestamp": "yesterday", "event": "T_STRING"}'],
      ['an array', '{"timestamp": [1, 2], "event": "T_ARRAY"}'],
      ['negative seconds', '{"timestamp": {"seconds": -1, "microseconds": 0}, "event": "T_NEG_S"}'],
      ['negative microseconds', `{"timestamp": {"seconds": ${sec}, "microseconds": -1}, "event": "T_NEG_US"}`],
      ['microseconds past a second', `{"timestamp": {"seconds": ${sec}, "microseconds": 1000000}, "event": "T_BIG_US"}`],
      ['seconds as a string', `{"timestamp": {"seconds": "${sec}", "microseconds": 0}, "event": "T_STR_S"}`],
      ['fractional seconds', `{"timestamp": {"seconds": ${sec}.5, "microseconds": 0}, "event": "T_FRAC_S"}`],
      ['seconds past any integer', '{"timestamp": {"seconds": 1e300, "microseconds": 0}, "event": "T_HUGE_FLOAT"}'],
      ['microseconds missing', `{"timestamp": {"seconds": ${sec}}, "event": "T_NO_US"}`],
      // Well-formed but absurd: far from the receipt time (and past a safe integer on the episode clock).
      ['huge seconds that are still a safe integer', '{"timestamp": {"seconds": 9007199254740991, "microseconds": 999999}, "event": "T_HUGE_INT"}'],
      ['the epoch (decades before the episode)', '{"timestamp": {"seconds": 0, "microseconds": 0}, "event": "T_EPOCH"}'],
    ];
    const good = eventLine('T_GOOD', { reason: 'host-qmp-stop' }, { seconds: sec, microseconds: 250_000 });
    const fake = await fakeQmp();
    fake.on('query-status', (req, conn) => {
      if (req.n === 1) conn.send(hostile.map(([, l]) => `${l}\r\n`).join('') + good);
      return undefined;
    });
    const run = await runQmpLoop(fake, () => fake.count('query-status') >= 2);
    expect(run.met).toBe(true);
    expect(run.reports).toEqual([]);
    expect(run.events.map((e) => e.event)).toEqual([...hostile.map(([, l]) => (JSON.parse(l) as { event: string }).event), 'T_GOOD']);
    const wrong: string[] = [];
    for (const [what, line] of hostile) {
      const name = (JSON.parse(line) as { event: string }).event;
      const r = run.events.find((e) => e.event === name)!;
      const t = r.t_mono_ns as number;
      if (r.time_source !== 'received') wrong.push(`${what}: time_source ${String(r.time_source)}`);
      if (r.qemu_wall_ns !== null) wrong.push(`${what}: qemu_wall_ns ${String(r.qemu_wall_ns)}`);
      const reason = reasonsOf(r).qemu_wall_ns ?? '';
      const unparsed = reason === 'QEMU sent no timestamp that parses; t_mono_ns is the time it was received';
      const absurd = /^QEMU's timestamp \d+ is -?[\d.]+(e[+-]\d+)? s from when the event was received; t_mono_ns is the time it was received$/.test(reason);
      if (!unparsed && !absurd) wrong.push(`${what}: reason ${reason}`);
      if (!(Number.isSafeInteger(t) && t >= 0 && t < 60e9)) wrong.push(`${what}: t_mono_ns ${t}`);
    }
    const g = run.events.find((e) => e.event === 'T_GOOD')!;
    expect(g).toMatchObject({ time_source: 'qemu', qemu_wall_ns: String(BigInt(sec) * 1_000_000_000n + 250_000_000n), data: { reason: 'host-qmp-stop' } });
    expect(g).not.toHaveProperty('null_reasons');
    expect(run.qmp.length).toBeGreaterThanOrEqual(1);
    expect(wrong).toEqual([]);
    expect(invalidRows(run.rows)).toEqual([]);
  });

  // Guards against: a value that is not a counter (negative, fractional, a
  // string, unrepresentable) being written as one, or nulled without saying why.
  it('values that are not counters: null in the row, with a reason naming what QEMU sent', async () => {
    const s = { ...BLOCKSTATS[0]!.stats } as Record<string, unknown>;
    delete s.idle_time_ns;
    s.rd_bytes = -1;
    s.wr_bytes = '12';
    s.rd_operations = 1.5;
    s.wr_operations = null;
    s.failed_rd_operations = true;
    s.failed_wr_operations = { a: 1 };
    s.flush_total_time_ns = 'x'.repeat(1000);
    const fake = await fakeQmp();
    fake.on('query-blockstats', (req) => okReply(req.id, [{ device: 'drive0', stats: s }]));
    fake.on('query-status', (req) => okReply(req.id, { status: 42, singlestep: false, running: 'yes' }));
    const run = await runQmpLoop(fake, () => fake.count('query-status') >= 3);
    expect(run.met).toBe(true);
    expect(run.reports).toEqual([]);
    expect(run.qmp.length).toBeGreaterThanOrEqual(2);
    for (const r of run.qmp) {
      const d = (r.block as Record<string, Record<string, unknown>>).drive0!;
      expect(d).toMatchObject({
        rd_bytes: null,
        wr_bytes: null,
        rd_operations: null,
        wr_operations: null,
        failed_rd_operations: null,
        failed_wr_operations: null,
        flush_total_time_ns: null,
        idle_time_ns: null,
        flush_operations: BLOCKSTATS[0]!.stats.flush_operations,
        rd_total_time_ns: BLOCKSTATS[0]!.stats.rd_total_time_ns,
      });
      expect(reasonsOf(r)).toMatchObject({
        'block.drive0.rd_bytes': 'QEMU sent -1',
        'block.drive0.wr_bytes': 'QEMU sent "12"',
        'block.drive0.rd_operations': 'QEMU sent 1.5',
        'block.drive0.wr_operations': 'QEMU sent null',
        'block.drive0.failed_rd_operations': 'QEMU sent true',
        'block.drive0.failed_wr_operations': 'QEMU sent {"a":1}',
        'block.drive0.flush_total_time_ns': `QEMU sent "${'x'.repeat(56)}...`,
        'block.drive0.idle_time_ns': 'QEMU reports it only once the device saw I/O',
        status: 'query-status: QEMU sent status 42',
        running: 'query-status: QEMU sent running "yes"',
      });
      expect(r).toMatchObject({ status: null, running: null });
    }
    expect(invalidRows(run.rows)).toEqual([]);
  });

  // Guards against: one malformed entry in a list QEMU returns (null, a number,
  // a device without stats) losing every other entry of that query.
  it('malformed entries in query-blockstats / query-cpus-fast / query-stats lists are skipped, the others kept', async () => {
    const fake = await fakeQmp();
    fake.on('query-blockstats', (req) => okReply(req.id, [null, 7, 'x', { device: 'drive1', stats: null }, { device: 42, stats: {} }, ...BLOCKSTATS]));
    fake.on('query-cpus-fast', (req) => okReply(req.id, [null, { 'cpu-index': -0.5, 'thread-id': 'x' }, ...CPUS_FAST]));
    fake.on('query-stats-schemas', (req) => okReply(req.id, [{ target: 'vm', stats: [] }, { target: 'vcpu', stats: [] }]));
    fake.on('query-stats', (req) =>
      (req.arguments as { target?: string }).target === 'vm'
        ? okReply(req.id, [null, { provider: 'kvm', stats: [null, { name: 'exits', value: 3 }, { name: 'bad', value: 'x' }, { value: 1 }] }])
        : okReply(req.id, [null, { provider: 'kvm', 'qom-path': '/machine/unattached/device[0]', stats: [null, { name: 'halt_exits', value: 4 }] }]),
    );
    const run = await runQmpLoop(fake, () => fake.count('query-status') >= 3);
    expect(run.met).toBe(true);
    expect(run.qmp.length).toBeGreaterThanOrEqual(2);
    for (const r of run.qmp) {
    expect(Object.keys((r.block ?? {}) as object)).toEqual(['drive0']);
      expect(r.vcpus).toEqual([{ cpu_index: 0, thread_id: 5574, qom_path: '/machine/unattached/device[0]' }]);
      expect(r.kvm_vm).toEqual({ exits: 3 });
      expect(r.kvm_vcpu).toEqual({ '/machine/unattached/device[0]': { halt_exits: 4 } });
    }
    expect(invalidRows(run.rows)).toEqual([]);
  });

  // Guards against: an event arriving before qmp_capabilities was answered
  // (QEMU never does this; a hostile one can) reaching the loop's onEvents
  // before `client` is assigned: a TypeError thrown from setImmediate, which is
  // an uncaught exception that ends the agent.
  it('an event before the qmp_capabilities reply: no uncaught exception, the event is still written', async () => {
    const uncaught: unknown[] = [];
    const onUncaught = (e: unknown) => uncaught.push(e);
    process.on('uncaughtException', onUncaught);
    let run: LoopRun;
    try {
      const fake = await fakeQmp({ greeting: GREETING + eventLine('RESUME') });
      run = await runQmpLoop(fake, () => fake.count('query-status') >= 3);
    } finally {
      process.off('uncaughtException', onUncaught);
    }
    expect(run.events.map((e) => e.event)).toEqual(['RESUME']);
    expect(run.qmp.length).toBeGreaterThanOrEqual(2);
    expect(invalidRows(run.rows)).toEqual([]);
    // In the agent (no uncaughtException handler) one would end the process.
    expect(uncaught.map((e) => String(e))).toEqual([]);
  });

  // Guards against: an event name or data of any size being copied into a row.
  it('an oversized event name and data: the name is cut at 256 characters, the data nulled with its size', async () => {
    const fake = await fakeQmp();
    const name = 'E'.repeat(1000);
    fake.on('query-status', (req, conn) => {
      if (req.n === 1) conn.sendEvent(name, { blob: 'z'.repeat(70 << 10) });
      return undefined;
    });
    const run = await runQmpLoop(fake, () => fake.count('query-status') >= 2);
    expect(run.met).toBe(true);
    expect(run.events).toHaveLength(1);
    const e = run.events[0]!;
    expect(e.event).toBe('E'.repeat(256));
    expect(e.data).toBeNull();
    expect(reasonsOf(e).data).toMatch(/^\d+ bytes of event data, more than the 65536 kept$/);
    expect(invalidRows(run.rows)).toEqual([]);
  });
});
