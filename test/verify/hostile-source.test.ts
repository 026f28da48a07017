// A row whose source names a member of Object.prototype ("constructor",
// "toString", "__proto__") is a row of an unknown source, counted as a
// schema error like any other. Regression for: verify looked such a source
// up in plain objects of schemas, found Object's own members, and crashed
// with a TypeError (keys.has is not a function; safeParse is not a function).
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { scanFile } from '../../src/verify/scan-rows.js';
import { tmpDir } from '../helpers/tmp.js';
import { legacyScanFile } from './legacy-scan-rows.js';

describe('a row of a source named like an Object.prototype member', () => {
  it('is an unknown source, not a crash', () => {
    const names = ['constructor', 'toString', '__proto__', 'hasOwnProperty'];
    const file = path.join(tmpDir(), 'telemetry-proc.jsonl');
    fs.writeFileSync(file, names.map((source) => JSON.stringify({ source, t_mono_ns: 1, seq: 0, available_in_deployment: true }) + '\n').join(''));
    expect(() => legacyScanFile(file)).toThrow(TypeError);
    const scan = scanFile(file);
    expect([...scan.sources.keys()]).toEqual(names);
    expect([...scan.sources.values()].map((s) => [s.schemaErrors, s.firstSchemaError])).toEqual(names.map((n) => [1, `line ${names.indexOf(n) + 1}: unknown source ${JSON.stringify(n)}`]));
  });

  // regression for: a source (or stub) that is an object String() cannot convert ({"toString":1}) threw
  // "Cannot convert object to primitive value" out of labtel verify and labtel report.
  it('a source that is an object String() cannot convert is an unknown source, not a crash', () => {
    const file = path.join(tmpDir(), 'telemetry-proc.jsonl');
    fs.writeFileSync(file, '{"source":{"toString":1},"t_mono_ns":1,"seq":0}\n{"source":"host_proc","t_mono_ns":2,"seq":0,"stub":{"toString":1}}\n');
    expect(() => legacyScanFile(file)).toThrow(/Cannot convert object to primitive value/);
    const scan = scanFile(file);
    expect(scan.badLines).toBe(0);
    expect(scan.sources.get('[object Object]')?.schemaErrors).toBe(1);
    expect(scan.sources.get('host_proc')?.schemaErrors).toBe(1);
  });
});
