// The native parsers against their TS twin (parse.ts, a direct port of the
// rules) on generated hostile /proc text: keys repeated, reordered, without a
// value, in the middle of a line or glued to junk; stat lines with malformed
// fields anywhere. Both samplers read the same files; every value and every
// per-file error must agree.
import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CLOCK_NOT_PROC, CLOCK_TS, E_CLOCK, E_TASKSTATS, PROC_FIELDS, SAMPLE_ERRORS } from '../../../src/collectors/proc/fields.js';
import { createProcSampler } from '../../../src/collectors/proc/sampler.js';
import { nativeAddon } from '../../../src/native/addon.js';
import { tmpDir } from '../../helpers/tmp.js';

const STATUS_KEYS = ['VmHWM:', 'VmSwap:', 'voluntary_ctxt_switches:', 'nonvoluntary_ctxt_switches:', 'Name:', 'VmRSS:', 'Vm', ''];
const IO_KEYS = ['rchar:', 'wchar:', 'read_bytes:', 'write_bytes:', 'syscr:', 'r', ''];
const value = fc.oneof(
  fc.constantFrom('', ' ', '\t', '0', '-0', '12', ' 42 kB', '\t7', '18446744073709551615', '18446744073709551616', '99999999999999999999', '12abc', '-', '1 2', 'x'),
  fc.bigInt({ min: 0n, max: 1n << 64n }).map(String),
);
const keyLine = (keys: string[]) => fc.tuple(fc.constantFrom(...keys), value, fc.constantFrom('', 'x', ' ')).map(([k, v, pre]) => (pre === 'x' ? `x${k}${v}` : `${k}${v}`));
const lines = (keys: string[]) => fc.array(keyLine(keys), { maxLength: 12 }).map((ls) => ls.join('\n') + (ls.length ? '\n' : ''));
const statText = fc
  .tuple(fc.constantFrom('1 (a) ', '1 (a) b) ', '1 (', '1 a) ', ''), fc.array(fc.oneof(value, fc.constantFrom('S', 'Z', '1', '500')), { minLength: 0, maxLength: 45 }))
  .map(([head, fields]) => `${head}${fields.join(' ')}\n`);

describe.runIf(nativeAddon())('native /proc parsers = the TS twin on generated hostile text', () => {
  // Regression for: the native status/io key search (memmem) and the stat parse skipping fields it does not keep,
  // both rewritten for speed, must find exactly what the line-by-line TS port finds.
  it('stat, statm, status and io: the same values and the same per-file errors, 400 generated processes', () => {
    const root = tmpDir();
    const dir = path.join(root, '77');
    fs.mkdirSync(dir);
    let compared = 0;
    fc.assert(
      fc.property(statText, lines(['1 2 3 4 5 6 7', '']), lines(STATUS_KEYS), lines(IO_KEYS), (stat, statm, status, io) => {
        fs.writeFileSync(path.join(dir, 'stat'), stat);
        fs.writeFileSync(path.join(dir, 'statm'), statm.split('\n')[0] ?? '');
        fs.writeFileSync(path.join(dir, 'status'), status);
        fs.writeFileSync(path.join(dir, 'io'), io);
        const read = (kind: 'native' | 'ts') => {
          const { sampler } = createProcSampler(root, 77, 4096, kind);
          expect(sampler.open()).toBe(0);
          const v = new Float64Array(PROC_FIELDS.length);
          const e = new Int32Array(SAMPLE_ERRORS);
          sampler.sample(v, e);
          sampler.close();
          // The CPU clock's and taskstats' slots are not parses: neither on the TS path, none under a fixture root on the native one.
          expect([e[E_CLOCK], e[E_TASKSTATS]]).toEqual(kind === 'ts' ? [CLOCK_TS, CLOCK_TS] : [CLOCK_NOT_PROC, CLOCK_NOT_PROC]);
          e[E_CLOCK] = 0;
          e[E_TASKSTATS] = 0;
          return { v: [...v].map((x) => (Number.isNaN(x) ? null : Object.is(x, -0) ? 0 : x)), e: [...e] };
        };
        expect(read('native'), JSON.stringify({ stat, statm, status, io })).toEqual(read('ts'));
        compared++;
      }),
      { numRuns: 400, seed: 19 },
    );
    expect(compared).toBe(400);
  });

  // Regression for: the schedstat parsers drifting apart (one accepting a sign, a 21st digit, a value past
  // 2^64 - 1 or a byte after the newline; one rounding a value past 2^53 differently).
  it('schedstat: the same values and sched_error for 400 generated lines', () => {
    const root = tmpDir();
    const dir = path.join(root, '77');
    fs.mkdirSync(path.join(dir, 'task', '77'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'stat'), '77 (a) S 1 1 1 0 -1 0 0 0 0 0 1 2 0 0 20 0 1 0 5 1 1\n');
    fs.writeFileSync(path.join(dir, 'task', '77', 'stat'), '77 (a) S 1 1 1 0 -1 0 0 0 0 0 1 2 0 0 20 0 1 0 5 1 1\n');
    const num = fc.oneof(
      fc.bigInt({ min: 0n, max: 1n << 64n }).map(String),
      fc.bigInt({ min: (1n << 53n) - 4n, max: (1n << 53n) + 4n }).map(String),
      fc.constantFrom('0', '00', '007', '-1', '+1', '', '18446744073709551615', '18446744073709551616', '000000000000000000001', '1\0', 'x'),
    );
    const sep = fc.constantFrom(' ', ' ', ' ', '  ', '\t', '');
    const loose = fc
      .tuple(fc.array(fc.tuple(num, sep), { minLength: 0, maxLength: 5 }), fc.constantFrom('\n', '\n', '', '\n\n', '\r\n', ' \n'))
      .map(([fields, end]) => fields.map(([n, s], i) => (i < fields.length - 1 ? n + s : n)).join('') + end);
    const valid = fc.tuple(num, num, num).map((f) => f.join(' ') + '\n');
    const line = fc.oneof({ arbitrary: valid, weight: 1 }, { arbitrary: loose, weight: 1 });
    let compared = 0;
    let parsed = 0;
    fc.assert(
      fc.property(line, (text) => {
        fs.writeFileSync(path.join(dir, 'task', '77', 'schedstat'), text, 'latin1');
        const read = (kind: 'native' | 'ts') => {
          const { sampler } = createProcSampler(root, 77, 4096, kind);
          expect(sampler.open()).toBe(0);
          const t = sampler.threads();
          sampler.close();
          return t;
        };
        const native = read('native');
        expect(native, JSON.stringify(text)).toEqual(read('ts'));
        expect(native).toHaveLength(1);
        if (native[0]!.sched_error === 0) parsed++;
        compared++;
      }),
      { numRuns: 400, seed: 20 },
    );
    expect(compared).toBe(400);
    expect(parsed).toBeGreaterThan(20); // the generator reaches valid lines too, not only rejections
  });
});
