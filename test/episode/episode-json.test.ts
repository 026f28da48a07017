import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runEpisode } from '../../src/agent/run-episode.js';
import { EpisodeJsonError, readEpisodeJson } from '../../src/episode/episode-json.js';
import { parseManifest } from '../../src/manifest/load.js';
import { verifyEpisode } from '../../src/verify/verify-episode.js';
import { tmpDir } from '../helpers/tmp.js';

type Row = Record<string, unknown>;

/** A real episode.json: labtel run on this test process with proc, for 0.3 s. */
async function realEpisode(): Promise<{ dir: string; raw: Row }> {
  const dir = path.join(tmpDir(), 'ep');
  await runEpisode({ manifest: parseManifest({ output_dir: dir, duration_s: 0.3, target: { pid: process.pid }, collectors: { proc: { interval_ms: 50 } } }) });
  return { dir, raw: JSON.parse(fs.readFileSync(path.join(dir, 'episode.json'), 'utf8')) as Row };
}

function rewrite(dir: string, edit: (ep: Row) => void): string {
  const file = path.join(dir, 'episode.json');
  const ep = JSON.parse(fs.readFileSync(file, 'utf8')) as Row;
  edit(ep);
  fs.writeFileSync(file, JSON.stringify(ep));
  return file;
}

describe('readEpisodeJson', () => {
  it('reads what labtel run writes back unchanged: the schema drops, renames or defaults nothing in it', async () => {
    const { dir, raw } = await realEpisode();
    expect(Object.keys(raw)).toEqual(expect.arrayContaining(['episode', 'clock', 'target', 'manifest', 'host', 'preflight', 'native']));
    expect(readEpisodeJson(dir)).toEqual(raw);
  });

  it('still reads an episode.json from before preflight, native, the sysconf values and the host inventory were written', async () => {
    const { dir } = await realEpisode();
    rewrite(dir, (ep) => {
      delete ep.preflight;
      delete ep.native;
      delete ep.labtel_version;
      ep.host = null;
      const clock = ep.clock as Row;
      delete clock.clk_tck;
      delete clock.page_size;
      delete clock.sysconf_source;
    });
    const ep = readEpisodeJson(dir);
    expect(ep.clock?.realtime_origin_ns).toMatch(/^\d+$/);
    expect(ep.clock?.clk_tck).toBeUndefined();
    expect(ep.manifest?.collectors?.proc?.interval_ms).toBe(50);
  });

  it('refuses a bad key naming the file and the key, not a TypeError later in a reader', async () => {
    const { dir } = await realEpisode();
    const file = rewrite(dir, (ep) => void (((ep.manifest as Row).collectors as Record<string, Row>).proc!.interval_ms = 'fast'));
    let err: unknown;
    try {
      readEpisodeJson(dir);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(EpisodeJsonError);
    expect((err as EpisodeJsonError).message).toBe(`${file}: manifest.collectors.proc.interval_ms: expected a positive integer, got "fast"`);
  });

  // Regression for: the reader checked the manifest with this build's strict schema, so an episode written by a
  // newer labtel (a key or a collector this one lacks) could no longer be verified, reported or replayed.
  it('reads a manifest with keys and collectors this build does not know, and verify still judges it', async () => {
    const { dir } = await realEpisode();
    rewrite(dir, (ep) => {
      const collectors = (ep.manifest as Row).collectors as Row;
      (collectors.proc as Row).cgroup = true;
      collectors.future = {};
    });
    const ep = readEpisodeJson(dir);
    expect((ep.manifest!.collectors as Row).future).toEqual({});
    expect(Object.keys(verifyEpisode(dir).collectors)).toEqual(['proc']);
  });

  it('names the file when it is missing or not JSON', () => {
    const dir = tmpDir();
    const file = path.join(dir, 'episode.json');
    expect(() => readEpisodeJson(dir)).toThrow(`ENOENT: no such file or directory, open '${file}'`);
    fs.writeFileSync(file, '{"episode": ');
    expect(() => readEpisodeJson(dir)).toThrow(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: `));
  });
});
