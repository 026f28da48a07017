// Issue 17, point 1: a hostile QEMU (a scripted QMP server) cannot crash
// the qmp collector, stall it, or make it write without bound. Each attack
// runs through the collector's loop (qmpLoop) and asserts all four: the loop
// keeps polling with values after the attack, the rows file stays within the
// stated bounds (each qmp row at most 1 MiB; the file within what the rows
// and events written allow), the drops and problems are counted (in the rows
// and the loop's result, which becomes summary.json's detail), and the
// reported messages are few and name what happened.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ErrorBudget } from '../../../src/agent/error-budget.js';
import { EpisodeClock } from '../../../src/clock/origin.js';
import { qmp } from '../../../src/collectors/qmp/collector.js';
import { qmpConfig } from '../../../src/collectors/qmp/config.js';
import { JsonlWriter } from '../../../src/rows/jsonl-writer.js';
import { ROW_SCHEMAS } from '../../../src/rows/registry.js';
import { eventLine, fakeQmp, okReply, runQmpLoop, type LoopRun } from '../../helpers/fake-qmp.js';
import { readJsonl, tmpDir } from '../../helpers/tmp.js';
import { waitFor } from '../../helpers/wait.js';

type Row = Record<string, unknown>;
const MiB = 1 << 20;
const ROW_BOUND = MiB;
const DEEP = 100_000;
const deep = '['.repeat(DEEP) + ']'.repeat(DEEP);
const reasonsOf = (r: Row) => (r.null_reasons ?? {}) as Record<string, string>;
const cutOf = (r: Row) => (r.cut ?? {}) as Record<string, string>;

/** Rows that fail their schema (empty when all are valid). */
function invalidRows(rows: Row[]): string[] {
  const bad: string[] = [];
  for (const r of rows) {
    const p = ROW_SCHEMAS[r.source as 'qmp' | 'qmp_event']?.safeParse(r);
    if (!p?.success) bad.push(`${String(r.source)} seq ${String(r.seq)}: ${p?.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') ?? 'no schema'}`);
  }
  return bad;
}

/** What every attack must leave: valid rows, no uncaught exception, every line within its bound, polling that went on with values. */
function expectHealthy(run: LoopRun, after: (r: Row) => boolean, minAfter = 2): void {
  expect(run.met).toBe(true);
  expect(run.uncaught.map(String)).toEqual([]);
  expect(run.result.connections).toBe(1); // no attack here costs the connection
  expect(invalidRows(run.rows)).toEqual([]);
  expect(run.lineBytes.length).toBe(run.rows.length);
  expect(run.lineBytes.length).toBeGreaterThan(0);
  for (const [i, n] of run.lineBytes.entries()) if (n > ROW_BOUND) expect.fail(`line ${i} is ${n} bytes, over the ${ROW_BOUND} bound`);
  // The file: qmp rows at most 1 MiB each, events at most 64 KiB of data plus their envelope each.
  expect(run.fileBytes).toBeLessThanOrEqual(run.qmp.length * ROW_BOUND + run.events.length * ((64 << 10) + 1024));
  // Memory: the largest answers here are 5-8 MiB of text, parsed (measured here: 62-69 MiB of peak RSS growth for
  // them, the fake server's own strings included; 3-22 MiB for the others). Unbounded, a row of 50 MB was built.
  expect(run.rssGrowth).toBeLessThan(256 * MiB);
  // Every row of this build says what was cut and what went wrong (the schema lets rows of earlier builds lack them).
  expect(run.qmp.length).toBeGreaterThan(0);
  for (const r of run.qmp) expect(Object.keys(r)).toEqual(expect.arrayContaining(['problems', 'cut', 'events_dropped_by']));
  const later = run.qmp.filter(after);
  expect(later.length, 'polls with values after the attack').toBeGreaterThanOrEqual(minAfter);
  for (const r of later) expect(r).toMatchObject({ status: 'prelaunch', running: false });
}

describe('qmp against a hostile QEMU: depth, size, floods (issue 17 point 1)', () => {
  // Regression for: a 100,000-deep event reached JSON.stringify in the event
  // writer (run-loop.ts, called from setImmediate): a RangeError no one caught,
  // which in the agent ends the collector's worker for the rest of the episode.
  it('an event nested 100,000 deep: not parsed, counted as too_deep, reported once, polling goes on', async () => {
    const line = `{"timestamp": {"seconds": 1, "microseconds": 0}, "event": "DEEP", "data": ${deep}}`;
    const fake = await fakeQmp();
    fake.on('query-status', (req, conn) => {
      if (req.n === 2) for (let i = 0; i < 3; i++) conn.send(`${line}\r\n`);
      return undefined;
    });
    const run = await runQmpLoop(fake, () => fake.count('query-status') >= 6);
    expectHealthy(run, (r) => (r.problems as Row).too_deep === 3);
    expect(run.events).toEqual([]);
    expect(run.qmp.at(-1)!.problems).toEqual({ too_deep: 3 });
    expect(run.result.problems).toEqual({ too_deep: 3 });
    expect(run.reports).toEqual([
      `qmp: QMP sent a message nested deeper than 64 levels (${line.length} characters, an event); not parsed (too_deep: the first; later ones are only counted)`,
      'qmp: problems in what QEMU sent over the episode (each reported once): too_deep 3',
    ]);
  });

  // Regression for: a deep reply waiting out the command timeout (here an
  // hour: a poll that waited would never finish), and a deep id reaching
  // JSON.stringify in the client's data handler (an uncaught RangeError).
  it('replies nested 100,000 deep (in the value, and in the id): the command fails at once with that reason, counted, polling goes on', async () => {
    const fake = await fakeQmp();
    fake.on('query-status', (req) => (req.n === 2 ? `{"return": {"status": ${deep}}, "id": ${JSON.stringify(req.id)}}\r\n` : undefined));
    fake.on('query-cpus-fast', (req, conn) => {
      if (req.n === 2) conn.send(`{"return": [], "id": ${deep}}\r\n`); // and then the real answer
      return undefined;
    });
    const run = await runQmpLoop(fake, () => fake.count('query-status') >= 6, { commandTimeoutMs: 3_600_000 });
    expectHealthy(run, (r) => (r.problems as Row).too_deep === 2 && r.status !== null);
    const failed = run.qmp.filter((r) => r.status === null);
    expect(failed).toHaveLength(1);
    expect(reasonsOf(failed[0]!)).toMatchObject({
      status: "query-status: QEMU's reply is nested deeper than 64 levels (not parsed)",
      running: "query-status: QEMU's reply is nested deeper than 64 levels (not parsed)",
    });
    expect(failed[0]!.block).not.toBeNull(); // the rest of that poll went on
    expect(run.result.problems).toEqual({ too_deep: 2 });
    expect(run.reports).toHaveLength(2);
    expect(run.reports[0]).toMatch(/^qmp: QMP sent a message nested deeper than 64 levels \(\d+ characters, a reply\); not parsed: query-status failed at once \(too_deep: the first; later ones are only counted\)$/);
  });

  // Regression for: 50,000 block devices, each with a reason per field,
  // becoming one row of many MiB (devices and null_reasons unbounded).
  it('a 5 MiB query-blockstats answer with 50,000 devices: 256 kept, the cut marked, null_reasons bounded, every row at most 1 MiB', async () => {
    const N = 50_000;
    const devices = Array.from({ length: N }, (_, i) => `{"device": "drive${i}", "stats": {"rd_bytes": "x", "wr_bytes": -1, "rd_operations": 1.5, "flush_operations": null}}`).join(', ');
    const answer = `{"return": [${devices}], "id": `;
    expect(answer.length).toBeGreaterThan(5 * MiB);
    const fake = await fakeQmp();
    fake.on('query-blockstats', (req) => `${answer}${JSON.stringify(req.id)}}\r\n`);
    const run = await runQmpLoop(fake, () => fake.count('query-status') >= 4, { commandTimeoutMs: 30_000 });
    expectHealthy(run, () => true, 3);
    expect(run.qmp.length).toBeGreaterThan(0);
    for (const r of run.qmp) {
      expect(Object.keys(r.block as object)).toHaveLength(256);
      expect(Object.keys(r.block as object)[255]).toBe('drive255');
      expect(cutOf(r).block).toBe('50000 devices, kept the first 256');
      // 12 counters and 3 latency histograms (not yet set: each says so) per device
      expect(cutOf(r).null_reasons).toBe(`${256 * 15 - 64} null_reasons inside block left out (the first 64 inside block and kvm_vcpu_rates are kept): a null there without its own reason is one of these`);
      expect(Object.keys(reasonsOf(r)).filter((k) => k.startsWith('block.'))).toHaveLength(64);
      expect(reasonsOf(r)['block.drive0.rd_bytes']).toBe('QEMU sent "x"');
    }
    expect(run.result.rowsCut).toBe(run.qmp.length);
    expect(run.reports).toEqual([]); // a cut is marked in its row, not reported
    expect(run.result.problems).toEqual({});
  });

  // Regression for: query-stats names and histograms copied whole into the row.
  it('query-stats answers of several MiB (1,500 VM statistics, 8 vCPUs of 300, histograms of 1,000 buckets): bounded, cut marked, the row within 1 MiB', async () => {
    const hist = `[${Array(1000).fill(1).join(', ')}]`;
    const stats = (n: number) => Array.from({ length: n }, (_, i) => `{"name": "hist_${i}", "value": ${hist}}`).join(', ');
    const vm = `{"return": [{"provider": "kvm", "stats": [${stats(1500)}]}], "id": `;
    const vcpu = `{"return": [${Array.from({ length: 8 }, (_, c) => `{"provider": "kvm", "qom-path": "/machine/unattached/device[${c}]", "stats": [${stats(300)}]}`).join(', ')}], "id": `;
    expect(vm.length).toBeGreaterThan(4 * MiB);
    expect(vcpu.length).toBeGreaterThan(5 * MiB);
    const fake = await fakeQmp();
    fake.on('query-stats-schemas', (req) => okReply(req.id, [{ target: 'vm', stats: [] }, { target: 'vcpu', stats: [] }]));
    fake.on('query-stats', (req) => `${(req.arguments as { target?: string }).target === 'vm' ? vm : vcpu}${JSON.stringify(req.id)}}\r\n`);
    const run = await runQmpLoop(fake, () => fake.count('query-status') >= 4, { commandTimeoutMs: 30_000 });
    expectHealthy(run, () => true, 3);
    expect(run.qmp.length).toBeGreaterThan(0);
    for (const r of run.qmp) {
      const kvmVm = r.kvm_vm as Record<string, number[]>;
      const histograms = Object.values(kvmVm);
      expect(histograms).toHaveLength(1024);
      expect(histograms.every((h) => h.length === 256)).toBe(true);
      expect(cutOf(r).kvm_vm).toBe('476 statistics past the first 1024 of a VM left out; 1024 histograms longer than 256 buckets cut to their first 256');
      const kept = Object.keys(r.kvm_vcpu as object);
      expect(kept.length).toBeGreaterThan(0);
      expect(kept.length).toBeLessThan(8);
      expect(cutOf(r).kvm_vcpu).toMatch(
        new RegExp(`^2400 histograms longer than 256 buckets cut to their first 256; ${8 - kept.length} of its 8 entries left out to keep the row within 1048576 bytes \\(it would have been \\d+\\)$`),
      );
    }
    expect(run.reports).toEqual([]);
  });

  // Regression for: an event flood written as fast as it came (hundreds of
  // MiB), with no limit but the queue.
  it('a flood of 200,000 events as fast as the socket goes: at most 100 a second pass, the rest counted by name in events_dropped, reported once', async () => {
    const N = 200_000;
    const now = Date.now();
    const ts = { seconds: Math.floor(now / 1000), microseconds: (now % 1000) * 1000 };
    const flood = Array.from({ length: N }, (_, i) => eventLine(i % 4 ? 'RTC_CHANGE' : 'BLOCK_IO_ERROR', { i }, ts)).join('');
    const fake = await fakeQmp();
    fake.on('query-status', (req, conn) => {
      if (req.n === 2) conn.send(flood);
      return undefined;
    });
    const run = await runQmpLoop(fake, () => fake.count('query-status') >= 6, { commandTimeoutMs: 30_000 });
    expectHealthy(run, (r) => (r.events_dropped as number) > 0);
    const { events, eventsDropped, eventsDroppedBy } = run.result;
    expect(events + eventsDropped).toBe(N); // every event accounted for
    expect(run.events).toHaveLength(events);
    // The bucket: one second's worth at once, then 100 a second over the time the loop ran (measured, not asserted).
    expect(events).toBeLessThanOrEqual(100 + Math.ceil((run.elapsedMs / 1000) * 100));
    expect(eventsDropped).toBeGreaterThan(0);
    expect(run.qmp.at(-1)!.events_dropped).toBe(eventsDropped);
    expect(run.qmp.at(-1)!.events_dropped_by).toEqual(eventsDroppedBy);
    expect(Object.keys(eventsDroppedBy).sort()).toEqual(['BLOCK_IO_ERROR', 'RTC_CHANGE']);
    expect(eventsDroppedBy.BLOCK_IO_ERROR! + eventsDroppedBy.RTC_CHANGE!).toBe(eventsDropped);
    const dropReports = run.reports.filter((m) => m.startsWith('qmp: QEMU sent events faster than labtel takes them (max_events_per_s 100, max_event_bytes_per_s 262144, a queue of 10000): '));
    expect(dropReports).toHaveLength(1);
    expect(run.reports).toEqual(dropReports);
    // The file holds the events that passed, not the flood.
    expect(run.fileBytes).toBeLessThan(flood.length / 10);
  });

  // Regression for: 100,000 garbage lines each becoming a reportError (a
  // collector_error row and a log line apiece).
  it('100,000 garbage lines of three kinds: each kind counted exactly, reported once, polling goes on', async () => {
    const junk: string[] = [];
    for (let i = 0; i < 100_000; i++) junk.push(i % 10 < 4 ? `garbage ${i}` : i % 10 < 7 ? `[${i}]` : `{"neither": ${i}}`);
    const garbage = junk.join('\r\n') + '\r\n';
    const fake = await fakeQmp();
    fake.on('query-status', (req, conn) => {
      if (req.n === 2) conn.send(garbage);
      return undefined;
    });
    const run = await runQmpLoop(fake, () => fake.count('query-status') >= 6, { commandTimeoutMs: 30_000 });
    const want = { not_json: 40_000, not_object: 30_000, neither_event_nor_reply: 30_000 };
    expectHealthy(run, (r) => JSON.stringify(r.problems) === JSON.stringify(want));
    expect(run.result.problems).toEqual(want);
    expect(run.reports).toEqual([
      'qmp: QMP sent a line that is not JSON: "garbage 0" (not_json: the first; later ones are only counted)',
      'qmp: QMP sent JSON that is not an object: "[4]" (not_object: the first; later ones are only counted)',
      'qmp: QMP sent a message that is neither an event nor a reply: "{\\"neither\\": 7}" (neither_event_nor_reply: the first; later ones are only counted)',
      'qmp: problems in what QEMU sent over the episode (each reported once): not_json 40000, not_object 30000, neither_event_nor_reply 30000',
    ]);
    expect(run.fileBytes).toBeLessThan(garbage.length / 10);
  });

  // Regression for: the attacks' drops and problems missing from summary.json
  // (the collector's detail), and each bad line becoming a collector_error.
  it('every attack in one run of the collector: summary detail counts the drops and problems, collector_error messages stay few and name them', async () => {
    const now = Date.now();
    const ts = { seconds: Math.floor(now / 1000), microseconds: 0 };
    const flood = Array.from({ length: 20_000 }, (_, i) => eventLine('RTC_CHANGE', { i }, ts)).join('');
    const garbage = Array.from({ length: 20_000 }, (_, i) => `junk ${i}\r\n`).join('');
    const fake = await fakeQmp();
    fake.on('query-status', (req, conn) => {
      if (req.n === 2) conn.send(`{"event": "DEEP", "data": ${deep}}\r\n${garbage}${flood}`);
      if (req.n === 3) return `{"return": ${deep}, "id": ${JSON.stringify(req.id)}}\r\n`;
      return undefined;
    });
    const dir = tmpDir();
    const writer = new JsonlWriter(path.join(dir, 'telemetry-qmp.jsonl'), { availableInDeployment: true });
    const errors: string[] = [];
    const budget = new ErrorBudget((m) => errors.push(m)); // what the collector's worker sends as collector_error
    const ac = new AbortController();
    const running = qmp.run({
      config: qmpConfig.parse({ socket: fake.path, interval_ms: 50 }),
      target: { pid: process.pid },
      clock: new EpisodeClock(process.hrtime.bigint(), BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint()),
      writer,
      signal: ac.signal,
      reportError: (m) => budget.report(m),
      episodeDir: dir,
    });
    await waitFor(() => fake.count('query-status') >= 8, 'eight polls');
    ac.abort();
    const outcome = await running;
    writer.close();
    budget.end();
    const rows = readJsonl(writer.path);
    const polls = rows.filter((r) => r.source === 'qmp');
    expect(polls.length).toBeGreaterThanOrEqual(7);
    const last = polls.slice(-3);
    expect(last).toHaveLength(3);
    expect(last.every((r) => r.status === 'prelaunch')).toBe(true);
    expect(invalidRows(rows)).toEqual([]);
    const d = outcome.detail as { problems: Record<string, number>; events_dropped: number; events_dropped_by: Record<string, number>; events: number; connections: number };
    expect(d.connections).toBe(1);
    expect(d.problems).toEqual({ too_deep: 2, not_json: 20_000 });
    expect(d.events + d.events_dropped).toBe(20_000);
    expect(d.events_dropped).toBeGreaterThan(0);
    expect(d.events_dropped_by).toEqual({ RTC_CHANGE: d.events_dropped });
    expect(polls.at(-1)).toMatchObject({ events_dropped: d.events_dropped, problems: d.problems });
    // One message per kind, one for the drops, one closing count: not one per line.
    expect(errors).toHaveLength(4);
    expect(errors[0]).toMatch(/^qmp: QMP sent a message nested deeper than 64 levels \(\d+ characters, an event\); not parsed \(too_deep: the first/);
    expect(errors[1]).toBe('qmp: QMP sent a line that is not JSON: "junk 0" (not_json: the first; later ones are only counted)');
    expect(errors[2]).toMatch(/^qmp: QEMU sent events faster than labtel takes them \(max_events_per_s 100, max_event_bytes_per_s 262144, a queue of 10000\): \d+ dropped so far/);
    expect(errors[3]).toBe('qmp: problems in what QEMU sent over the episode (each reported once): too_deep 2, not_json 20000');
  });

  // Regression for: a QEMU answering every query under an id nobody asked
  // for holding each poll for one command timeout per query (six of them).
  it('every answer under a wrong id: each poll waits one command timeout in all, not one per query, and says so', async () => {
    const fake = await fakeQmp();
    for (const q of ['query-status', 'query-blockstats', 'query-cpus-fast', 'query-stats-schemas', 'query-stats', 'query-balloon']) {
      fake.on(q, (req) => okReply(`not-${String(req.id)}`, {}));
    }
    const run = await runQmpLoop(fake, () => fake.count('query-status') >= 4, { commandTimeoutMs: 300 });
    expect(run.met).toBe(true);
    expect(run.uncaught.map(String)).toEqual([]);
    expect(run.qmp.length).toBeGreaterThanOrEqual(3);
    // One query per poll is asked and waited for; the others are not asked, with that reason.
    expect(fake.count('query-blockstats')).toBe(0);
    for (const r of run.qmp) {
      expect(reasonsOf(r).status).toBe('query-status: no reply within 300 ms');
      expect(reasonsOf(r).block).toBe('query-blockstats: not asked: this poll already waited 300 ms for QEMU');
      expect(reasonsOf(r).balloon_actual_bytes).toBe('query-balloon: not asked: this poll already waited 300 ms for QEMU');
    }
    // Every wrong-id reply of a finished poll is counted, and none more than QEMU sent (the last
    // query's reply may still be on its way when the loop is stopped).
    expect(run.result.problems.unknown_id).toBeGreaterThanOrEqual(run.qmp.length);
    expect(run.result.problems.unknown_id).toBeLessThanOrEqual(fake.count('query-status'));
    expect(run.reports.filter((m) => m.includes('(unknown_id: the first;'))).toHaveLength(1);
    expect(invalidRows(run.rows)).toEqual([]);
  });

  // Regression for: an exception in labtel's own handling of one event or
  // poll ending the collector (thrown from setImmediate it is uncaught; from
  // the loop it ends qmpLoop). Provoked here through the clock, the one thing
  // the event's row and the poll's stamp share that a test can make throw.
  it("an exception in labtel's own handling of an event: counted as internal, reported once, the next events and polls go on", async () => {
    const clock = new EpisodeClock(process.hrtime.bigint(), BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint());
    let throws = 2;
    const fromWall = clock.fromWall.bind(clock);
    clock.fromWall = (ns: bigint) => {
      if (throws-- > 0) throw new Error('clock broke');
      return fromWall(ns);
    };
    const fake = await fakeQmp();
    fake.on('query-status', (req, conn) => {
      if (req.n === 2) for (let i = 0; i < 4; i++) conn.sendEvent('E', { i });
      return undefined;
    });
    const run = await runQmpLoop(fake, () => fake.count('query-status') >= 5, { clock });
    expectHealthy(run, (r) => (r.problems as Row).internal === 2);
    expect(run.events.map((e) => (e.data as { i: number }).i)).toEqual([2, 3]);
    expect(run.result.problems).toEqual({ internal: 2 });
    expect(run.reports[0]).toMatch(/^qmp: labtel failed on a QMP event: Error: clock broke\n.*; the collector carries on \(internal: the first; later ones are only counted\)$/s);
    expect(run.reports).toHaveLength(2); // and the closing count
  });
});
