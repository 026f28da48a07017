// Issue 16 point 1: adding a collector is its folder plus one line in the catalog
// (src/collectors/catalog.ts). The toy collector in test/fixtures/toy-collector/ is such a
// folder; LABTEL_TEST_COLLECTORS adds it to the catalog as that line would. Guards against
// a list that names the collectors by hand (the manifest schema, the row registry, the
// sources, the worker table, verify's rules, the docs) left out of what the catalog derives.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { readJsonl, tmpDir } from '../helpers/tmp.js';

const TOY = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'toy-collector', 'spec.ts');
// Before the catalog is first imported (every src/ import below is dynamic, after this line).
process.env.LABTEL_TEST_COLLECTORS = TOY;
const { runEpisode } = await import('../../src/agent/run-episode.js');
const { verifyEpisode } = await import('../../src/verify/verify-episode.js');
const { parseManifest } = await import('../../src/manifest/load.js');
const { renderManifestDoc, renderRowsDoc } = await import('../../src/docs/render.js');
// The collectors' workers inherit it and find the toy in their catalog; gone after this file,
// before another test file that may share this process imports a catalog of its own.
afterAll(() => {
  delete process.env.LABTEL_TEST_COLLECTORS;
});

const manifest = (dir: string, toy: object) =>
  parseManifest({ output_dir: dir, duration_s: 30, target: { pid: process.pid }, collectors: { toy } });

describe('a collector added by its folder and one catalog line', () => {
  it('runs through labtel run and labtel verify: ok, with its rows of its own source', async () => {
    const dir = path.join(tmpDir(), 'toy-ok');
    const { summary } = await runEpisode({ manifest: manifest(dir, { interval_ms: 20, rows: 3 }) });
    expect(summary.collectors.toy).toMatchObject({ status: 'ok', rows: 3, end: 'done', sources: ['toy'], file: 'telemetry-toy.jsonl' });
    expect(summary.exit_reason).toBe('collectors_ended');

    const rows = readJsonl(path.join(dir, 'telemetry-toy.jsonl'));
    expect(rows.length).toBe(3);
    for (const [i, r] of rows.entries()) {
      expect(r).toMatchObject({ source: 'toy', seq: i, available_in_deployment: false, pid: process.pid });
      expect(r.resident_pages).toBeGreaterThan(0);
    }
    const report = verifyEpisode(dir);
    expect(report.collectors.toy).toEqual({ verdict: 'ok', rows: 3, reasons: [] });
    expect(report.verdict).toBe('ok');
  });

  it("is judged by its spec's verify rules: rows that measured nothing fail with its own sentence", async () => {
    const dir = path.join(tmpDir(), 'toy-blind');
    const { summary } = await runEpisode({ manifest: manifest(dir, { interval_ms: 20, rows: 2, blind: true }) });
    expect(summary.collectors.toy).toMatchObject({ status: 'failed', reason: 'every one of its 2 rows had null metrics' });
    expect(verifyEpisode(dir).collectors.toy).toMatchObject({
      verdict: 'failed',
      reasons: ['failed: every one of its 2 rows had null metrics', '2 toy rows, but resident_pages was null in every one'],
    });
  });

  it('its keys are in the manifest and its rows in the docs', () => {
    expect(() => manifest(path.join(tmpDir(), 'x'), { interval_ms: 'fast' })).toThrow('collectors.toy.interval_ms: expected a positive integer, got "fast"');
    expect(renderManifestDoc()).toContain('### `collectors.toy`');
    expect(renderRowsDoc()).toContain('## `toy`');
    expect(fs.readFileSync(TOY, 'utf8')).toContain("name: 'toy'");
  });
});

describe('the built-in specs', () => {
  const builtIn = async () => (await import('../../src/collectors/catalog.js')).CATALOG.filter((s) => (s.name as string) !== 'toy');

  // Guards against a spec whose code lives elsewhere: the layering test reads src/, but not the
  // entry's module URL, so the code a spec names must sit in the collector's own folder.
  it('each names its code in its own folder, and judges one of its own sources', async () => {
    const specs = await builtIn();
    expect(specs.map((s) => s.name)).toEqual(['proc', 'perf', 'pcap', 'netflow', 'qmp', 'guest_agent']);
    for (const s of specs) {
      expect(s.entry.module, s.name).toMatch(new RegExp(`/src/collectors/${s.name}/collector\\.ts$`));
      expect(s.rows.map((r) => r.source), s.name).toContain(s.verify.source);
    }
  });

  // Guards against losing verify's one sentence that reads summary.json's detail rather than the rows.
  it("qmp's spec says how many QMP events were dropped, from summary.json's count", async () => {
    const qmp = (await builtIn()).find((s) => s.name === 'qmp')!;
    expect(qmp.verify.detailDrops?.({ events_dropped: 3 })).toEqual(['3 QMP events were dropped (past max_events_per_s or max_event_bytes_per_s, or more than could be queued)']);
    expect(qmp.verify.detailDrops?.({ events_dropped: 0 })).toEqual([]);
  });
});
