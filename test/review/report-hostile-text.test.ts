// labtel report on rows whose text fields are JSON objects that cannot be
// made a string: `{"toString":1}` parses to an object whose toString is not
// a function, so String() of it (or a template literal) throws "Cannot
// convert object to primitive value". Where the report names a thread, an
// event or an agent's message from such a field, the whole report failed
// (verify only counts such rows as failing their schema). The names come
// out as String() gives for any other object.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateEpisode } from '../../scripts/bench/gen-episode.js';
import { renderReport } from '../../src/report/render.js';
import { tmpDir } from '../helpers/tmp.js';

type Row = Record<string, unknown>;
const HOSTILE = { toString: 1, valueOf: 1 };

function episode(): string {
  const dir = path.join(tmpDir(), 'ep');
  fs.mkdirSync(dir);
  generateEpisode(dir, 20);
  return dir;
}

function editLines(dir: string, name: string, edit: (row: Row, i: number) => Row[]): void {
  const file = path.join(dir, `telemetry-${name}.jsonl`);
  const rows = fs.readFileSync(file, 'utf8').split('\n').slice(0, -1).map((l) => JSON.parse(l) as Row);
  expect(rows.length).toBeGreaterThan(10);
  fs.writeFileSync(file, rows.flatMap(edit).map((r) => `${JSON.stringify(r)}\n`).join(''));
}

describe('labtel report: text fields that String() cannot convert', () => {
  it("a thread's comm, vcpu and starttime, a process's starttime", () => {
    // regression for: renderReport threw "Cannot convert object to primitive value" on one hostile proc row.
    const dir = episode();
    editLines(dir, 'proc', (r, i) => {
      if (i === 30 && 'tid' in r) return [{ ...r, comm: HOSTILE, vcpu: null }];
      if (i === 40 && 'tid' in r) return [{ ...r, vcpu: HOSTILE }];
      if (i === 50 && 'tid' in r) return [{ ...r, starttime: HOSTILE }];
      if (i === 63) return [{ ...r, starttime: HOSTILE }];
      return [r];
    });
    const r = renderReport(dir);
    expect(r.panels).toBeGreaterThan(0);
    expect(r.html).toContain('"verdict":"failed"'); // (verify: the rows fail their schema)
  });

  it("a QMP event's name and the agent's message about qmp", () => {
    // regression for: renderReport threw "Cannot convert object to primitive value" on a qmp_event or agent row.
    const dir = episode();
    fs.appendFileSync(path.join(dir, 'telemetry-qmp.jsonl'), `${JSON.stringify({ source: 'qmp_event', t_mono_ns: 15e9, seq: 9999, event: HOSTILE, data: null, qemu_wall_ns: 1, time_source: 'qemu' })}\n`);
    fs.writeFileSync(path.join(dir, 'telemetry-agent.jsonl'), `${JSON.stringify({ source: 'agent', t_mono_ns: 10e9, seq: 0, event: 'collector_error', collector: 'qmp', message: HOSTILE })}\n`);
    const r = renderReport(dir);
    expect(r.markers).toBeGreaterThan(0);
    expect(r.html).toContain('"label":"[object Object]","kind":"event"');
  });
});
