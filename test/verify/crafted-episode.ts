// Crafted episodes for labtel verify: a real clean proc episode, copied and
// broken one thing at a time, with collectors added from crafted rows.
import fs from 'node:fs';
import path from 'node:path';
import { runEpisode } from '../../src/agent/run-episode.js';
import { parseManifest } from '../../src/manifest/load.js';
import { tmpDir } from '../helpers/tmp.js';

export type Row = Record<string, unknown>;

/**
 * Records a real 1.2 s episode of this test process with proc at 50 ms; returns its directory. Without proc's
 * host_cgroup rows, so that its proc file is host_proc rows only, as the crafted edits expect (test/verify/cgroup-rows.test.ts
 * verifies an episode with them).
 */
export async function cleanEpisode(): Promise<string> {
  const dir = path.join(fs.mkdtempSync('/tmp/labtel-verify-'), 'ep');
  await runEpisode({ manifest: parseManifest({ output_dir: dir, duration_s: 1.2, target: { pid: process.pid }, collectors: { proc: { interval_ms: 50, cgroup: false } } }) });
  return dir;
}

/** A copy of `clean`, with `edit` applied to its proc rows (a string replaces the file). */
export function copyOf(clean: string, edit?: (rows: Row[]) => Row[] | string): string {
  const dir = path.join(tmpDir(), 'ep');
  fs.cpSync(clean, dir, { recursive: true });
  if (edit) {
    const file = path.join(dir, 'telemetry-proc.jsonl');
    const rows = fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Row);
    const out = edit(rows);
    fs.writeFileSync(file, typeof out === 'string' ? out : out.map((r) => JSON.stringify(r) + '\n').join(''));
  }
  return dir;
}

/** Adds a collector to the copy: its manifest entry, summary entry (`summary` overrides fields) and rows. */
export function withCollector(dir: string, name: string, config: object, rows: object[], detail: object = {}, errors: string[] = [], summary: object = {}): string {
  editJson(dir, 'episode.json', (ep) => {
    (ep.manifest as { collectors: Row }).collectors[name] = { enabled: true, optional: false, ...config };
  });
  editJson(dir, 'summary.json', (s) => {
    (s.collectors as Row)[name] = { status: 'ok', reason: null, rows: rows.length, errors, end: 'stopped', file: `telemetry-${name}.jsonl`, sources: [], detail, ...summary };
  });
  fs.writeFileSync(path.join(dir, `telemetry-${name}.jsonl`), rows.map((r) => JSON.stringify(r) + '\n').join(''));
  return dir;
}

/** Rewrites one JSON file of the episode in place. */
export function editJson(dir: string, file: string, edit: (json: Row) => void): void {
  const p = path.join(dir, file);
  const json = JSON.parse(fs.readFileSync(p, 'utf8')) as Row;
  edit(json);
  fs.writeFileSync(p, JSON.stringify(json));
}

/**
 * Where crafted rows of at most 1 s may start so that they end just before the episode
 * stopped: the clean episode's stop depends on how fast its workers came up, and rows
 * that end seconds before it are (rightly) degraded for it.
 */
export function lastSecond(dir: string): number {
  const s = JSON.parse(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8')) as { t_mono_stop_ns: number };
  return s.t_mono_stop_ns - 1e9;
}

/** The episode's proc rows. */
export function procRows(dir: string): Row[] {
  return fs.readFileSync(path.join(dir, 'telemetry-proc.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Row);
}

/** `n` rows of `source` every `stepNs` from `t0`, seq from 0, each `make(i)` over the envelope. */
export function series(source: string, n: number, t0: number, stepNs: number, make: (i: number) => object, availableInDeployment = true): Row[] {
  return Array.from({ length: n }, (_, i) => ({ source, t_mono_ns: t0 + i * stepNs, seq: i, available_in_deployment: availableInDeployment, ...make(i) }));
}
