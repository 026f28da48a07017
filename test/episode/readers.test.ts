// The readers of episode.json go through the one typed reader: a bad key is
// named where it is, instead of being read as whatever it happens to be.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runEpisode } from '../../src/agent/run-episode.js';
import { parseManifest } from '../../src/manifest/load.js';
import { verifyEpisode } from '../../src/verify/verify-episode.js';
import { tmpDir } from '../helpers/tmp.js';

type Row = Record<string, unknown>;

describe('episode.json readers', () => {
  it('verify refuses an episode.json whose manifest has a bad key, naming the file and the key (regression for: an interval of "fast" was read as NaN and the episode judged on it)', async () => {
    const dir = path.join(tmpDir(), 'ep');
    await runEpisode({ manifest: parseManifest({ output_dir: dir, duration_s: 0.3, target: { pid: process.pid }, collectors: { proc: { interval_ms: 50 } } }) });
    const file = path.join(dir, 'episode.json');
    const ep = JSON.parse(fs.readFileSync(file, 'utf8')) as Row;
    ((ep.manifest as Row).collectors as Record<string, Row>).proc!.interval_ms = 'fast';
    fs.writeFileSync(file, JSON.stringify(ep));
    expect(() => verifyEpisode(dir)).toThrow(`${dir}: its episode.json is not valid (${file}: manifest.collectors.proc.interval_ms: expected a positive integer, got "fast")`);
  });
});
