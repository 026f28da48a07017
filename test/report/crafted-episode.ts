// Episodes written by hand, row by row, for the report's tests: what a
// collector would have written around a restart, a reconnect or a missing
// answer, with the envelope every row carries.
import fs from 'node:fs';
import path from 'node:path';
import { tmpDir } from '../helpers/tmp.js';

type Row = Record<string, unknown>;

export class CraftedEpisode {
  readonly dir = path.join(tmpDir(), 'ep');
  private readonly files = new Map<string, Row[]>();
  private readonly seqs = new Map<string, number>();

  constructor(collectors: Record<string, object>, opts: { hostCpus?: number } = {}) {
    fs.mkdirSync(this.dir);
    const manifest = { output_dir: this.dir, target: { pid: 1 }, collectors: Object.fromEntries(Object.entries(collectors).map(([k, v]) => [k, { enabled: true, optional: false, ...v }])) };
    fs.writeFileSync(
      path.join(this.dir, 'episode.json'),
      JSON.stringify({ episode: 'crafted', clock: { clk_tck: 100 }, host: { cpu: { cores: opts.hostCpus ?? 4 } }, manifest }),
    );
  }

  /** Appends a row to telemetry-<file>.jsonl at `t` seconds, its seq the next of its source. */
  row(file: string, source: string, t: number, fields: Row): this {
    const seq = this.seqs.get(source) ?? 0;
    this.seqs.set(source, seq + 1);
    const rows = this.files.get(file) ?? this.files.set(file, []).get(file)!;
    rows.push({ source, t_mono_ns: Math.round(t * 1e9), seq, available_in_deployment: true, ...fields });
    return this;
  }

  /** Writes the files; returns the episode directory. */
  write(): string {
    for (const [file, rows] of this.files) fs.writeFileSync(path.join(this.dir, `telemetry-${file}.jsonl`), rows.map((r) => JSON.stringify(r) + '\n').join(''));
    return this.dir;
  }
}
