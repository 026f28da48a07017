// The native batch path (native/core/proc_batch.cc: sleep, sample and format
// steady rows in C++) against today's row text: every row it writes must be
// byte for byte the row run-loop.ts's JS code (row-text.ts + JsonlWriter)
// makes from the same sample, on the golden fixtures, on hostile /proc text
// (numbers JS spells in exponent form, -0, odd state letters), on files that
// change under it, and on a live process.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { EpisodeClock } from '../../../src/clock/origin.js';
import { CLOCK_NOT_PROC, CLOCK_TS, E_CLOCK, E_TASKSTATS, F, PROC_FIELDS, PROC_FILES, SAMPLE_ERRORS } from '../../../src/collectors/proc/fields.js';
import { procLoop, type ProcLoopResult } from '../../../src/collectors/proc/run-loop.js';
import { processRowText } from '../../../src/collectors/proc/row-text.js';
import { createProcSampler } from '../../../src/collectors/proc/sampler.js';
import { nativeAddon } from '../../../src/native/addon.js';
import type { NativeProcSampler } from '../../../src/native/types.js';
import { JsonlWriter } from '../../../src/rows/jsonl-writer.js';
import { ROW_SCHEMAS } from '../../../src/rows/registry.js';
import { newStopFlag } from '../../../src/util/pace.js';
import { ROOT } from '../../helpers/cli.js';
import { tmpDir } from '../../helpers/tmp.js';

const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'proc');
const PAGE = 4096;

const addon = nativeAddon();

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
});

/** A thread that runs `script` (with `flag` and `data` in scope) beside this one, which the batch loop blocks. */
function beside(script: string, flag: Int32Array, data: unknown = null): Worker {
  return new Worker(`const { workerData: { flag, data } } = require('node:worker_threads'); const fs = require('node:fs'); ${script}`, { eval: true, workerData: { flag, data } });
}

/** Raises the stop flag once `file` holds `lines` whole lines, from another thread (bounded: 20 s, then the test fails on the count). */
function stopAtLines(flag: Int32Array, file: string, lines: number): Worker {
  return beside(
    `const end = Date.now() + 20000;
     for (;;) {
       let n = 0; try { const b = fs.readFileSync(data.file); for (let i = b.indexOf(10); i >= 0; i = b.indexOf(10, i + 1)) n++; } catch {}
       if (n >= data.lines || Date.now() > end) break;
       Atomics.wait(flag, 0, 0, 5);
     }
     Atomics.store(flag, 0, 1); Atomics.notify(flag, 0);`,
    flag,
    { file, lines },
  );
}

/**
 * Runs procLoop at 1 ms with a stop flag (the worker's way, so the native batch runs) until a helper thread
 * raises the flag. jsRows: the samples JS took itself (each reads the clock), so the rest came from C++.
 */
async function runBatched(pid: number, procRoot: string, until: (flag: Int32Array, out: string) => Worker[]): Promise<{ lines: string[]; result: ProcLoopResult; jsRows: number }> {
  const out = path.join(tmpDir(), 'telemetry-proc.jsonl');
  const writer = new JsonlWriter(out, { availableInDeployment: true });
  const stopFlag = newStopFlag();
  const helpers = until(stopFlag, out);
  const clock = new EpisodeClock(0);
  let jsRows = 0;
  const now = clock.now.bind(clock);
  clock.now = () => {
    jsRows++;
    return now();
  };
  let result: ProcLoopResult;
  try {
    result = await procLoop({ pid, writer, clock, intervalMs: 1, signal: new AbortController().signal, stopFlag, procRoot, sampler: 'native', pageSize: PAGE });
  } finally {
    writer.close();
    await Promise.all(helpers.map((h) => h.terminate()));
  }
  const text = fs.readFileSync(out, 'utf8');
  expect(text.endsWith('\n')).toBe(true);
  return { lines: text.slice(0, -1).split('\n'), result, jsRows };
}

interface RowInput {
  t: number;
  starttime: number | null;
  event: 'started' | 'restarted' | null;
  prevT: number | null;
  v: Float64Array;
  err: Int32Array;
}

/** The process-row lines today's JS writes for these samples, seq from 0: JsonlWriter's envelope around row-text.ts's members. */
function jsLines(rows: RowInput[], pid: number, procRoot: string): string[] {
  const file = path.join(tmpDir(), 'ref.jsonl');
  const w = new JsonlWriter(file, { availableInDeployment: true });
  for (const { t, starttime, event, prevT, v, err } of rows) {
    const r = processRowText(pid, starttime, event, prevT === null ? null : (t - prevT) / 1e9, v, err, procRoot);
    let reasons = r.fieldReasons;
    if (prevT === null) (reasons ??= {}).interval_s = event === 'restarted' ? 'first sample after the restart' : 'first sample';
    w.writeMembers('host_proc', t, r.members, reasons);
  }
  w.close();
  return fs.readFileSync(file, 'utf8').slice(0, -1).split('\n');
}

/** What the pure-TS sampler reads from a fixture: an independent parse of the same files. */
function tsSample(procRoot: string, pid: number): { v: Float64Array; err: Int32Array } {
  const { sampler } = createProcSampler(procRoot, pid, PAGE, 'ts');
  expect(sampler.open()).toBe(0);
  const v = new Float64Array(PROC_FIELDS.length);
  const err = new Int32Array(SAMPLE_ERRORS);
  sampler.sample(v, err);
  sampler.close();
  // The two slots the samplers fill differently: cpu_time_ns (the kernel's CPU clock) and run_delay_ns/run_periods
  // (taskstats) are the native sampler's, null on the TS path (CLOCK_TS); under a fixture root the native sampler
  // leaves them null with CLOCK_NOT_PROC. Every other value and errno is the TS sampler's own reading.
  expect([err[E_CLOCK], err[E_TASKSTATS]]).toEqual([CLOCK_TS, CLOCK_TS]);
  err[E_CLOCK] = CLOCK_NOT_PROC;
  err[E_TASKSTATS] = CLOCK_NOT_PROC;
  return { v, err };
}

/** Each line against the line JS makes from the sample sampleFor() gives (t, seq and interval from the lines themselves). */
function expectSameAsJs(lines: string[], pid: number, procRoot: string, sampleFor: (row: Record<string, unknown>) => { v: Float64Array; err: Int32Array }): void {
  expect(lines.length).toBeGreaterThan(0);
  const inputs: RowInput[] = [];
  let prevT: number | null = null;
  for (const line of lines) {
    const row = JSON.parse(line) as Record<string, unknown>;
    if (row.process_event === 'exited') break;
    const { v, err } = sampleFor(row);
    const t = row.t_mono_ns as number;
    inputs.push({ t, starttime: Number.isNaN(v[F.starttime]!) ? null : v[F.starttime]!, event: inputs.length === 0 ? 'started' : null, prevT, v, err });
    prevT = t;
  }
  const want = jsLines(inputs, pid, procRoot);
  expect(want.length).toBeGreaterThan(0);
  for (const [i, w] of want.entries()) expect(lines[i], `row ${i}`).toBe(w);
}

/** The sample a row says it is, read back from its own JSON: for rows of a live process, whose values move. */
function sampleOfRow(row: Record<string, unknown>): { v: Float64Array; err: Int32Array } {
  const v = new Float64Array(PROC_FIELDS.length).fill(NaN);
  for (const [i, name] of PROC_FIELDS.entries()) {
    const x = row[name];
    if (x === null || x === undefined) continue;
    v[i] = name === 'state' ? (x as string).charCodeAt(0) : (x as number);
  }
  const err = new Int32Array(SAMPLE_ERRORS);
  if (Number.isNaN(v[F.cpu_time_ns]!)) err[E_CLOCK] = CLOCK_NOT_PROC; // a fixture root's rows: no CPU clock
  if (Number.isNaN(v[F.run_delay_ns]!)) err[E_TASKSTATS] = CLOCK_NOT_PROC; // nor taskstats
  return { v, err };
}

describe.runIf(addon)('proc native batch rows = the JS rows', () => {
  it('has the batch in the addon, and the fixture cases', () => {
    expect(typeof (addon!.ProcSampler.prototype as NativeProcSampler).batch).toBe('function');
    expect(fs.readdirSync(FIXTURES).sort()).toEqual(['garbage', 'kernel-thread', 'no-io', 'qemu-like']);
  });

  // Regression for: rows written by C++ must not differ from the JS rows by a byte (number spelling, nulls and
  // their reasons, field order), on every recorded fixture, nulls (no io, a kernel thread) and garbage included.
  it.each(['qemu-like', 'no-io', 'kernel-thread', 'garbage'])('fixture %s: 200 rows, byte for byte the JS rows from the TS sampler', async (c) => {
    const exp = JSON.parse(fs.readFileSync(path.join(FIXTURES, c, 'expected.json'), 'utf8')) as { pid: number };
    const procRoot = path.join(FIXTURES, c, 'proc');
    const { lines, result, jsRows } = await runBatched(exp.pid, procRoot, (flag, out) => [stopAtLines(flag, out, 200)]);
    expect(lines.length).toBeGreaterThanOrEqual(200);
    expect(result.rows).toBe(lines.length); // stopped: every row sampled is on disk
    const sample = tsSample(procRoot, exp.pid);
    expectSameAsJs(lines, exp.pid, procRoot, () => sample);
    // Most from C++; but a process whose starttime cannot be read has no identity to hold rows to: all from JS.
    if (Number.isNaN(sample.v[F.starttime]!)) expect(jsRows).toBeGreaterThanOrEqual(lines.length);
    else expect(jsRows).toBeLessThan(lines.length / 2);
  });

  // Regression for: C++ spelling numbers its own way where JS does not use plain digits: 1e21 and up in
  // exponent form, 2^53 + 1 rounded, -0 as 0, and state letters JSON escapes ('"', '\\', control, DEL, Latin-1).
  it.each([
    ['"', 0x22],
    ['backslash', 0x5c],
    ['control', 0x01],
    ['DEL', 0x7f],
    ['Latin-1', 0xe9],
  ])('hostile /proc text (state %s): byte for byte the JS rows', async (_name, state) => {
    const procRoot = tmpDir();
    const pid = 4321;
    const dir = path.join(procRoot, String(pid));
    fs.mkdirSync(dir);
    const stat = Buffer.concat([
      Buffer.from(`${pid} (x) y) `, 'latin1'),
      Buffer.from([state]),
      Buffer.from(' 1 1 1 0 -1 4194560 -0 0 18446744073709551615 0 9007199254740993 -5 20 0 1 0 31750 18446744073709551615 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 1\n', 'latin1'),
    ]);
    fs.writeFileSync(path.join(dir, 'stat'), stat);
    fs.writeFileSync(path.join(dir, 'statm'), '18446744073709551615 18446744073709551615 4503599627370497 1 0 244140625000000000 0\n');
    fs.writeFileSync(path.join(dir, 'status'), 'Name:\tx\nVmHWM:\t18446744073709551615 kB\nVmSwap:\t-0 kB\nvoluntary_ctxt_switches:\t1\nnonvoluntary_ctxt_switches:\t99999999999999999999\n');
    fs.writeFileSync(path.join(dir, 'io'), 'rchar: 1\nwchar: 2\nread_bytes: 3\nwrite_bytes: 4\n');
    const sample = tsSample(procRoot, pid);
    expect(sample.v[F.state]).toBe(state);
    expect(sample.v[F.rss_bytes]! * 1).toBeGreaterThan(1e21); // spelled in exponent form by JS
    const { lines, jsRows } = await runBatched(pid, procRoot, (flag, out) => [stopAtLines(flag, out, 50)]);
    expect(lines.length).toBeGreaterThanOrEqual(50);
    expectSameAsJs(lines, pid, procRoot, () => sample);
    expect(lines[1]).toContain(',"rss_bytes":7.555786372591432e+22,');
    expect(jsRows).toBeLessThan(lines.length / 2);
  });

  // Regression for: a batch in C++ carrying on with the old signature when a file changes under it (io becomes
  // unreadable, then readable again): each row must carry the nulls and reasons of its own sample.
  it('a file that turns to garbage and back mid-run: every row as JS writes it for its own sample', async () => {
    const procRoot = tmpDir();
    const src = path.join(FIXTURES, 'qemu-like', 'proc', '3728');
    const dir = path.join(procRoot, '3728');
    fs.mkdirSync(dir);
    for (const f of PROC_FILES) fs.copyFileSync(path.join(src, f), path.join(dir, f));
    const good = tsSample(procRoot, 3728);
    const io = path.join(dir, 'io');
    const goodIo = fs.readFileSync(io, 'utf8');
    // Good and bad differ in one byte, written in place by one pwrite: no sample can see a torn file.
    expect(goodIo.startsWith('rchar:')).toBe(true);
    fs.writeFileSync(io, `x${goodIo.slice(1)}`);
    const bad = tsSample(procRoot, 3728);
    fs.writeFileSync(io, goodIo);
    expect(Number.isNaN(bad.v[F.io_rchar]!)).toBe(true);
    // Another thread rewrites io in place (the sampler's descriptor stays on the same file) after 100, 200, 300 rows.
    const flip = (flag: Int32Array, out: string) => [
      beside(
        `const lines = () => { try { const b = fs.readFileSync(data.out); let n = 0; for (let i = b.indexOf(10); i >= 0; i = b.indexOf(10, i + 1)) n++; return n; } catch { return 0; } };
         const end = Date.now() + 20000;
         for (const [at, byte] of [[100, 'x'], [200, 'r'], [300, 'x'], [400, null]]) {
           while (lines() < at && Date.now() < end) Atomics.wait(flag, 0, 0, 2);
           if (byte === null) break;
           const fd = fs.openSync(data.io, 'r+'); fs.writeSync(fd, byte, 0); fs.closeSync(fd);
         }
         Atomics.store(flag, 0, 1); Atomics.notify(flag, 0);`,
        flag,
        { out, io },
      ),
    ];
    const { lines } = await runBatched(3728, procRoot, flip);
    expect(lines.length).toBeGreaterThanOrEqual(400);
    const kinds = lines.map((l) => (JSON.parse(l).io_rchar === null ? 'bad' : 'good'));
    expect(kinds.filter((k) => k === 'bad').length).toBeGreaterThan(50);
    expect(kinds.filter((k) => k === 'good').length).toBeGreaterThan(50);
    expectSameAsJs(lines, 3728, procRoot, (row) => (row.io_rchar === null ? bad : good));
  });

  // Regression for: a target that turns zombie during a batch must end the loop with one 'exited' row, as the JS ticks do.
  it('a target that becomes a zombie mid-batch (one byte of stat rewritten in place): one exited row, then the loop ends (target_exited)', async () => {
    const procRoot = tmpDir();
    const src = path.join(FIXTURES, 'qemu-like', 'proc', '3728');
    const dir = path.join(procRoot, '3728');
    fs.mkdirSync(dir);
    for (const f of PROC_FILES) fs.copyFileSync(path.join(src, f), path.join(dir, f));
    const stat = fs.readFileSync(path.join(dir, 'stat'), 'latin1');
    const zombie = stat.replace(/\) S /, ') Z ');
    expect(zombie).not.toBe(stat);
    const { lines, result } = await runBatched(3728, procRoot, (flag, out) => [
      beside(
        `const end = Date.now() + 20000;
         for (;;) { let n = 0; try { const b = fs.readFileSync(data.out); for (let i = b.indexOf(10); i >= 0; i = b.indexOf(10, i + 1)) n++; } catch {}
           if (n >= 50 || Date.now() > end) break; Atomics.wait(flag, 0, 0, 2); }
         const fd = fs.openSync(data.stat, 'r+'); fs.writeSync(fd, 'Z', data.at); fs.closeSync(fd);`,
        flag,
        { out, stat: path.join(dir, 'stat'), at: stat.indexOf(') S ') + 2 },
      ),
    ]);
    expect(result.end).toBe('target_exited');
    expect(lines.length).toBeGreaterThanOrEqual(51);
    const rows = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(rows.filter((r) => r.process_event === 'exited')).toHaveLength(1);
    expect(rows[rows.length - 1]!.process_event).toBe('exited');
    expect(rows.map((r) => r.seq)).toEqual(rows.map((_, i) => i));
    const good = tsSample(path.join(FIXTURES, 'qemu-like', 'proc'), 3728);
    expectSameAsJs(lines, 3728, procRoot, () => good);
  });

  // Regression for: rows lost at stop (held in C++ or in the writer when the flag is raised); and C++ number
  // spelling on live values (interval_s, thousands of distinct doubles) that JS would spell otherwise.
  it('a live process for 1000+ rows: contiguous seqs, every row on disk at stop, valid, and spelled as JS spells its values', async () => {
    const child = spawn('sleep', ['60']);
    children.push(child);
    const pid = child.pid!;
    const { lines, result, jsRows } = await runBatched(pid, '/proc', (flag, out) => [stopAtLines(flag, out, 1000)]);
    expect(lines.length).toBeGreaterThanOrEqual(1000);
    expect(result.rows).toBe(lines.length);
    expect(result.rowsWithValues).toBe(lines.length);
    const rows = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(rows.length).toBeGreaterThanOrEqual(1000);
    expect(rows.map((r) => r.seq)).toEqual(rows.map((_, i) => i));
    for (const r of rows) expect(() => ROW_SCHEMAS.host_proc!.parse(r)).not.toThrow();
    expect(new Set(rows.map((r) => r.interval_s)).size).toBeGreaterThan(100);
    for (const [i, r] of rows.entries()) if (i > 0 && r.null_reasons !== undefined) throw new Error(`row ${i} of a live process has nulls: ${lines[i]}`);
    // The kernel's CPU clock of the process, through the batch too: a number on every row, never falling.
    const cpu = rows.map((r) => r.cpu_time_ns as number);
    expect(cpu.length).toBeGreaterThan(100);
    expect(cpu.every((x) => typeof x === 'number' && x >= 0)).toBe(true);
    expect(cpu.every((x, i) => i === 0 || x >= cpu[i - 1]!)).toBe(true);
    // And taskstats' run delay and run periods of the thread group (the tests run as root: CAP_NET_ADMIN).
    for (const k of ['run_delay_ns', 'run_periods']) {
      const xs = rows.map((r) => r[k] as number);
      expect(xs.length).toBeGreaterThan(100);
      expect(xs.every((x, i) => typeof x === 'number' && x >= 0 && (i === 0 || x >= xs[i - 1]!)), k).toBe(true);
    }
    expectSameAsJs(lines, pid, '/proc', sampleOfRow);
    expect(jsRows).toBeLessThan(lines.length / 2);
  });
});

describe.runIf(addon)('proc native batch: a restart under the same pid', () => {
  // Guards against: a batch in C++ carrying on across a new starttime (the pid's files now describe another
  // process): the first sample of it must come back to JS and be written as 'restarted', interval_s null, seq and
  // t_mono_ns unbroken, and the rows after it held to the new identity.
  it('starttime rewritten in place mid-run: one restarted row where it changed, every row as the per-tick loop writes it', async () => {
    const procRoot = tmpDir();
    const src = path.join(FIXTURES, 'qemu-like', 'proc', '3728');
    const dir = path.join(procRoot, '3728');
    fs.mkdirSync(dir);
    for (const f of PROC_FILES) fs.copyFileSync(path.join(src, f), path.join(dir, f));
    const statFile = path.join(dir, 'stat');
    const stat = fs.readFileSync(statFile, 'latin1');
    const at = stat.indexOf(' 31750 ');
    expect(at).toBeGreaterThan(0);
    const before = tsSample(procRoot, 3728);
    fs.writeFileSync(statFile, stat.replace(' 31750 ', ' 31751 '));
    const after = tsSample(procRoot, 3728);
    fs.writeFileSync(statFile, stat);
    expect([before.v[F.starttime], after.v[F.starttime]]).toEqual([31750, 31751]);
    const { lines, result } = await runBatched(3728, procRoot, (flag, out) => [
      beside(
        `const lines = () => { try { const b = fs.readFileSync(data.out); let n = 0; for (let i = b.indexOf(10); i >= 0; i = b.indexOf(10, i + 1)) n++; return n; } catch { return 0; } };
         const end = Date.now() + 20000;
         while (lines() < 100 && Date.now() < end) Atomics.wait(flag, 0, 0, 2);
         const fd = fs.openSync(data.stat, 'r+'); fs.writeSync(fd, '1', data.at + 5); fs.closeSync(fd);
         while (lines() < 200 && Date.now() < end) Atomics.wait(flag, 0, 0, 2);
         Atomics.store(flag, 0, 1); Atomics.notify(flag, 0);`,
        flag,
        { out, stat: statFile, at },
      ),
    ]);
    expect(result.end).toBe('stopped');
    expect(lines.length).toBeGreaterThanOrEqual(200);
    const rows = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(rows.map((r) => r.seq)).toEqual(rows.map((_, i) => i));
    const restart = rows.findIndex((r) => r.starttime === 31751);
    expect(restart).toBeGreaterThan(0);
    expect(rows.map((r) => r.process_event).filter((e) => e !== null)).toEqual(['started', 'restarted']);
    expect(rows[restart]!.process_event).toBe('restarted');
    const afterRestart = rows.slice(restart);
    expect(afterRestart.length).toBeGreaterThan(0);
    expect(afterRestart.every((r) => r.starttime === 31751)).toBe(true);
    // The per-tick loop's rows for the same samples at the same times.
    const inputs: RowInput[] = rows.map((r, i) => {
      const s = i < restart ? before : after;
      const first = i === 0 || i === restart;
      return { t: r.t_mono_ns as number, starttime: s.v[F.starttime]!, event: i === 0 ? 'started' : i === restart ? 'restarted' : null, prevT: first ? null : (rows[i - 1]!.t_mono_ns as number), v: s.v, err: s.err };
    });
    const want = jsLines(inputs, 3728, procRoot);
    expect(want.length).toBe(lines.length);
    for (const [i, w] of want.entries()) expect(lines[i], `row ${i}`).toBe(w);
  });
});
