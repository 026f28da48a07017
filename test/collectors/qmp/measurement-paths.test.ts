// The qmp worker counts its value rows with paths written out (no zod in the worker):
// they must stay those the row schema marks, or verify and the agent would disagree on
// whether the collector measured anything.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { QMP_POLL_MEASUREMENTS } from '../../../src/collectors/qmp/measurement-paths.js';
import { hasMeasuredValue, isMeasuredValue } from '../../../src/rows/measured-value.js';
import { isMeasuredValue as schemaIsMeasuredValue } from '../../../src/rows/measurement.js';
import { MEASUREMENT_PATHS, hasMeasuredValue as schemaHasMeasuredValue } from '../../../src/rows/measurements.js';
import { ROOT } from '../../helpers/cli.js';

describe('qmp measurement paths', () => {
  // regression for: a measured field added to the qmp row schema and not here would leave rows that measure it counted as null rows ("every one of its rows had null metrics").
  it('are the paths the qmp row schema marks as measurements', () => {
    expect(MEASUREMENT_PATHS.qmp).toHaveLength(1);
    expect(QMP_POLL_MEASUREMENTS).toEqual(MEASUREMENT_PATHS.qmp![0]!.paths);
  });
});

describe('rows/measured-value.ts (zod-free) against rows/measurement.ts and rows/measurements.ts', () => {
  const deep = (n: number): unknown => (n === 0 ? null : { a: deep(n - 1) });
  const edge: unknown[] = [null, undefined, 0, false, '', 'x', {}, [], { cpu: null }, [{ user: null }], [null, 1], { a: { b: [null, { c: 0 }] } }, deep(10), deep(200), { ...Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`k${i}`, null])) }];
  const fixtureValues = ['guest/test-guest-lines.jsonl', 'guest/qga-answers.jsonl', 'qmp/qemu-tcg.jsonl', 'qmp/qemu-kvm.jsonl'].flatMap((f) =>
    fs.readFileSync(path.join(ROOT, 'test/fixtures', f), 'latin1').split('\n').flatMap((l) => {
      try {
        const v = JSON.parse(l) as Record<string, unknown>;
        return [v, v.return ?? null];
      } catch {
        return [];
      }
    }),
  );

  it('say the same of every value: edge cases and recorded guest and QEMU answers', () => {
    const values = [...edge, ...fixtureValues];
    expect(fixtureValues.length).toBeGreaterThan(20);
    expect(values.length).toBeGreaterThan(20);
    for (const v of values) expect(isMeasuredValue(v), JSON.stringify(v)?.slice(0, 80)).toBe(schemaIsMeasuredValue(v));
  });

  it('find the same measured values in qmp rows', () => {
    const rows: unknown[] = [
      { status: null, running: null, block: {}, kvm_vm: null, kvm_vcpu: null, balloon_actual_bytes: null },
      { status: 'running', running: true, block: null },
      { status: null, block: { disk0: { rd_bytes: null, wr_bytes: 0 } } },
      { status: null, block: { disk0: { rd_bytes: null } }, kvm_vcpu: { '0': { exits: null } } },
      { status: null, kvm_vcpu: { '0': { exits: 5 } } },
      { qemu_version: '7.2.22', poll_ms: 3, status: null },
      ...fixtureValues,
    ];
    expect(rows.length).toBeGreaterThan(6);
    for (const r of rows) expect(hasMeasuredValue(r, QMP_POLL_MEASUREMENTS), JSON.stringify(r)?.slice(0, 80)).toBe(schemaHasMeasuredValue(r, MEASUREMENT_PATHS.qmp![0]!.paths));
  });
});
