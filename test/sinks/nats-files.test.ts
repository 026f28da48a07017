// What the NATS sink writes on disk, against a real nats-server: the
// forwarder's cursor and the pulled episodes are never written (or read)
// through a symlink, and a hostile publisher chooses no path outside the
// pull root, cannot stop the pull, and what it sent that was not written is
// counted by kind.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runEpisode } from '../../src/agent/run-episode.js';
import { parseManifest } from '../../src/manifest/load.js';
import { natsSinkConfig } from '../../src/sinks/nats/config.js';
import { CURSOR_FILE, NatsForwarder } from '../../src/sinks/nats/forwarder.js';
import { pull } from '../../src/sinks/nats/pull.js';
import { hasNats, publish, startNats } from '../helpers/nats.js';
import { abortWhenLines, tmpDir } from '../helpers/tmp.js';

/** A file the test owns, for a symlink to point at. */
function victim(text = 'victim\n'): string {
  const file = path.join(tmpDir('labtel-victim-'), 'victim');
  fs.writeFileSync(file, text);
  return file;
}

const mode = (p: string) => (fs.lstatSync(p).mode & 0o7777).toString(8);

const ROW = (seq: number) => JSON.stringify({ source: 'host_proc', t_mono_ns: seq, seq, available_in_deployment: true });

describe.skipIf(!hasNats())('files of the NATS sink', () => {
  // Regression for: the cursor was written to forward-cursor.json.tmp with fs.writeFileSync (a symlink planted
  // there was followed, its target overwritten), and read through a symlink at forward-cursor.json (a planted
  // cursor could claim every row acknowledged, and nothing was published).
  it('the forwarder\'s cursor: neither read nor written through a symlink; replaced by a 0640 file', async () => {
    const nats = await startNats();
    const dir = path.join(tmpDir(), 'ep');
    await runEpisode({
      manifest: parseManifest({ output_dir: dir, episode: 'ep', target: { pid: process.pid }, collectors: { proc: { interval_ms: 20 } } }),
      stop: abortWhenLines(path.join(dir, 'telemetry-proc.jsonl'), 5),
    });
    const rows = fs.readFileSync(path.join(dir, 'telemetry-proc.jsonl'), 'utf8').split('\n').length - 1
      + fs.readFileSync(path.join(dir, 'telemetry-agent.jsonl'), 'utf8').split('\n').length - 1;
    expect(rows).toBeGreaterThan(5);
    // A cursor that says everything was acknowledged, behind a symlink; and a symlink where the old code put its temporary file.
    const planted = JSON.stringify({ acked: { host_proc: 1e9, agent: 1e9 }, offsets: {}, files: { episode: true, summary: true } });
    const cursorVictim = victim(planted);
    const tmpVictim = victim();
    fs.symlinkSync(cursorVictim, path.join(dir, CURSOR_FILE));
    fs.symlinkSync(tmpVictim, path.join(dir, `${CURSOR_FILE}.tmp`));

    const f = new NatsForwarder(dir, natsSinkConfig.parse({ servers: [nats.url] }), { prefix: 'labtel', host: 'lab-a', episode: 'ep' });
    try {
      expect(await f.pass()).toBe(true);
      expect(await f.forwardEpisodeFiles()).toBe(true);
    } finally {
      await f.close();
    }
    expect(f.progress).toEqual({ published: rows, skipped: 0, stubs: 0, corrupt: 0, error: null });
    expect(fs.readFileSync(cursorVictim, 'utf8')).toBe(planted);
    expect(fs.readFileSync(tmpVictim, 'utf8')).toBe('victim\n');
    expect(fs.lstatSync(path.join(dir, CURSOR_FILE)).isFile()).toBe(true);
    expect(mode(path.join(dir, CURSOR_FILE))).toBe('640');
    expect(JSON.parse(fs.readFileSync(path.join(dir, CURSOR_FILE), 'utf8')).files).toEqual({ episode: true, summary: true });
  });

  // Regression for: the forwarder read episode.json, summary.json and the rows files through a symlink, so a
  // symlink planted in an episode directory published whatever it pointed at.
  it('the forwarder publishes nothing read through a symlink in the episode directory, and says why', async () => {
    const nats = await startNats();
    const dir = path.join(tmpDir(), 'ep');
    fs.mkdirSync(dir);
    const secret = victim('{"secret":"not for NATS"}\n');
    fs.writeFileSync(path.join(dir, 'episode.json'), '{"episode":"ep"}\n');
    fs.symlinkSync(secret, path.join(dir, 'summary.json'));
    const cfg = natsSinkConfig.parse({ servers: [nats.url] });
    const f = new NatsForwarder(dir, cfg, { prefix: 'labtel', host: 'lab-a', episode: 'ep' });
    try {
      expect(await f.forwardEpisodeFiles()).toBe(false);
      expect(f.progress.error).toBe(`${path.join(dir, 'summary.json')} is a symlink; labtel does not read through one (ELOOP)`);
      fs.unlinkSync(path.join(dir, 'summary.json'));
      fs.symlinkSync(secret, path.join(dir, 'telemetry-proc.jsonl'));
      expect(await f.pass()).toBe(false);
      expect(f.progress.error).toBe(`${path.join(dir, 'telemetry-proc.jsonl')} is a symlink; labtel does not read through one (ELOOP)`);
    } finally {
      await f.close();
    }
    const out = path.join(tmpDir(), 'pulled');
    const r = await pull({ servers: [nats.url], stream: 'LABTEL', out, durable: 'test' });
    expect(r.rows).toBe(0);
    // No rows file: only episode.json, and pull's state (which records the run the directory holds).
    expect(fs.readdirSync(path.join(out, 'lab-a', 'ep')).sort()).toEqual(['.pull-state.json', 'episode.json']);
  });

  // Regression for: one message that was not JSON made labtel pull throw and stop; a row with a newline in it
  // became two lines of the pulled file; a source named "constructor" became the file
  // "telemetry-function Object() { [native code] }.jsonl"; and what was not written was not counted.
  it('a hostile publisher: paths stay plain names under --out, the pull goes on, and what was not written is counted by kind', async () => {
    const nats = await startNats();
    await publish(nats.url, [
      ['labtel.a/b.ep.host_proc', ROW(0)], // a "/" in a token
      ['labtel.lab.ep.__proto__', ROW(0)],
      ['labtel.lab.ep._evil', '{}'],
      ['labtel.lab.ep.host_proc', 'not json'],
      ['labtel.lab.ep.host_proc', '{"seq":0,\n"x":1}'],
      ['labtel.lab.ep.host_proc', ROW(0)],
      ['labtel.lab.ep.constructor', ROW(0)],
      ['labtel.lab.ep.host_proc', ROW(1)],
    ]);
    const out = path.join(tmpDir(), 'pulled');
    const r = await pull({ servers: [nats.url], stream: 'LABTEL', out, durable: 'test' });
    // A host_proc row on the subject of source "constructor" is not that source's row: set aside, not written as one.
    expect(r).toMatchObject({ rows: 2, skipped: 0, episodes: ['lab/ep'] });
    expect(r.rejected).toEqual({ subject: 3, not_a_row: 2, wrong_source: 1, seq_order: 0, not_an_object: 0, unwritable: 0 });
    expect(r.setAside.wrong_source).toEqual([{ subject: 'labtel.lab.ep.constructor', why: 'line 1 is a "host_proc" row on the subject of source constructor' }]);
    expect(fs.readdirSync(out)).toEqual(['lab']);
    expect(fs.readdirSync(path.join(out, 'lab'))).toEqual(['ep']);
    expect(fs.readdirSync(path.join(out, 'lab', 'ep')).sort()).toEqual(['.pull-state.json', 'telemetry-proc.jsonl']);
    expect(fs.readFileSync(path.join(out, 'lab', 'ep', 'telemetry-proc.jsonl'), 'utf8')).toBe(`${ROW(0)}\n${ROW(1)}\n`);
    // Nothing was made beside --out.
    expect(fs.readdirSync(path.dirname(out))).toEqual(['pulled']);
  });

  // Regression for: pulled rows were appended with fs.appendFileSync and episode.json/summary.json and the state
  // written with fs.writeFileSync, all through a symlink planted at their path; directories through a symlink too.
  it('pulled files: a symlink at a rows file refuses the pull (ELOOP named); at the state or episode.json it is replaced; a symlinked directory is refused', async () => {
    const nats = await startNats();
    await publish(nats.url, [
      ['labtel.lab.ep._episode', '{"episode":"ep"}'],
      ['labtel.lab.ep.host_proc', ROW(0)],
    ]);

    // The state and episode.json: replaced by fresh 0640 files (tmp + rename), the files they pointed at untouched.
    const out1 = path.join(tmpDir(), 'pulled');
    fs.mkdirSync(path.join(out1, 'lab', 'ep'), { recursive: true });
    const stateVictim = victim();
    const episodeVictim = victim();
    fs.symlinkSync(stateVictim, path.join(out1, 'lab', 'ep', '.pull-state.json'));
    fs.symlinkSync(episodeVictim, path.join(out1, 'lab', 'ep', 'episode.json'));
    expect((await pull({ servers: [nats.url], stream: 'LABTEL', out: out1, durable: 'one' })).rows).toBe(1);
    expect(fs.readFileSync(stateVictim, 'utf8')).toBe('victim\n');
    expect(fs.readFileSync(episodeVictim, 'utf8')).toBe('victim\n');
    for (const f of ['.pull-state.json', 'episode.json', 'telemetry-proc.jsonl']) {
      const p = path.join(out1, 'lab', 'ep', f);
      expect(fs.lstatSync(p).isFile(), f).toBe(true);
      expect(mode(p), f).toBe('640');
    }

    // A rows file: refused, naming it and ELOOP.
    const out2 = path.join(tmpDir(), 'pulled');
    fs.mkdirSync(path.join(out2, 'lab', 'ep'), { recursive: true });
    const rowsVictim = victim();
    const rowsFile = path.join(out2, 'lab', 'ep', 'telemetry-proc.jsonl');
    fs.symlinkSync(rowsVictim, rowsFile);
    await expect(pull({ servers: [nats.url], stream: 'LABTEL', out: out2, durable: 'two' })).rejects.toThrow(
      `cannot write ${rowsFile}: it is a symlink; labtel does not write through one (ELOOP)`,
    );
    expect(fs.readFileSync(rowsVictim, 'utf8')).toBe('victim\n');

    // A pulled episode directory, and --out itself, that is a symlink: refused, naming it; nothing written where it points.
    const out3 = path.join(tmpDir(), 'pulled');
    fs.mkdirSync(path.join(out3, 'lab'), { recursive: true });
    const victimDir = path.dirname(victim());
    fs.symlinkSync(victimDir, path.join(out3, 'lab', 'ep'));
    await expect(pull({ servers: [nats.url], stream: 'LABTEL', out: out3, durable: 'three' })).rejects.toThrow(
      `pulled episode directory ${path.join(out3, 'lab', 'ep')} is a symlink (to ${victimDir}); labtel does not write through one`,
    );
    const out4 = path.join(tmpDir(), 'pulled');
    fs.symlinkSync(victimDir, out4);
    await expect(pull({ servers: [nats.url], stream: 'LABTEL', out: out4, durable: 'four' })).rejects.toThrow(`pull --out ${out4} is a symlink (to ${victimDir}); labtel does not write through one`);
    expect(fs.readdirSync(victimDir)).toEqual(['victim']);
  });
});
