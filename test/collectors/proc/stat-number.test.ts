// statNumber: one field of a stat line, walked as parseStat walks it (the
// comm may hold spaces and parentheses; fields are counted after its last ')').
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { F, PROC_FIELDS } from '../../../src/collectors/proc/fields.js';
import { parseStat, statNumber } from '../../../src/collectors/proc/parse.js';

describe('statNumber', () => {
  it('gives the fields parseStat gives, on this process and on a comm with spaces and parentheses', () => {
    const lines = [fs.readFileSync('/proc/self/stat', 'latin1'), '42 (a b) (c)) S 1 42 42 0 -1 4210752 7 0 0 0 11 13 0 0 20 0 1 0 5000 1000 10\n'];
    expect(lines.length).toBeGreaterThan(0);
    for (const s of lines) {
      const v = new Float64Array(PROC_FIELDS.length);
      expect(parseStat(s, v)).not.toBeNull();
      expect([statNumber(s, 10), statNumber(s, 14), statNumber(s, 15), statNumber(s, 22)]).toEqual([v[F.minflt], v[F.cpu_user_jiffies], v[F.cpu_sys_jiffies], v[F.starttime]]);
    }
    expect(statNumber(lines[1]!, 9)).toBe(4210752);
  });

  it('is NaN past the end, before field 4, or without a comm', () => {
    expect([statNumber('42 (x) S 1\n', 9), statNumber('42 (x) S 1\n', 3), statNumber('42 x S 1 2 3\n', 4), statNumber('42 (x) S 1 z 3\n', 5)]).toEqual([NaN, NaN, NaN, NaN]);
  });
});
