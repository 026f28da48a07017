// What labtel finds at a path it rewrites or extends (report -o FILE,
// report.html, a pulled rows file): a local user can put a fifo, their own
// file or a hard link there first (report -o /tmp/r.html is a path in a
// directory everyone can write). None is written into; each is refused,
// naming what it is, before anything in it changes.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { runEpisode } from '../../src/agent/run-episode.js';
import { reportCommand } from '../../src/cli/commands/report.js';
import { parseManifest } from '../../src/manifest/load.js';
import { pull } from '../../src/sinks/nats/pull.js';
import { publish, startNats } from '../helpers/nats.js';
import { abortWhenLines, tmpDir } from '../helpers/tmp.js';

const NOBODY = 65534;
let ep = '';

beforeAll(async () => {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'labtel-review-report-'));
  ep = path.join(base, 'ep');
  const manifest = parseManifest({ output_dir: ep, target: { pid: process.pid }, collectors: { proc: { interval_ms: 50 } } });
  await runEpisode({ manifest, stop: abortWhenLines(path.join(ep, 'telemetry-proc.jsonl'), 3) });
  return () => fs.rmSync(base, { recursive: true, force: true });
});

afterEach(() => {
  vi.restoreAllMocks();
});

describe('labtel report -o: what is already at the path', () => {
  // regression for: -o /tmp/r.html where another user had made /tmp/r.html first: labtel truncated and wrote their
  // file (O_TRUNC, then fchmod 0640), which stayed theirs, so they read the episode's report.
  it('a file another user owns is refused and left as it was', async () => {
    const out = path.join(tmpDir(), 'r.html');
    fs.writeFileSync(out, 'theirs\n', { mode: 0o644 });
    fs.chownSync(out, NOBODY, NOBODY);
    await expect(reportCommand(ep, { output: out })).rejects.toThrow(
      `cannot write ${out}: it is owned by uid ${NOBODY}, not by labtel's user (0), who could read what labtel writes; remove it or name another file`,
    );
    expect(fs.readFileSync(out, 'utf8')).toBe('theirs\n');
    expect(fs.statSync(out).mode & 0o7777).toBe(0o644);
  });

  // regression for: a hard link at the path was written through, changing the file under its other name.
  it('a hard link is refused, and the file under its other name is unchanged', async () => {
    const d = tmpDir();
    const other = path.join(d, 'other');
    fs.writeFileSync(other, 'other\n');
    const out = path.join(d, 'r.html');
    fs.linkSync(other, out);
    await expect(reportCommand(ep, { output: out })).rejects.toThrow(`cannot write ${out}: it has 2 hard links, and writing it would change the file under its other names`);
    expect(fs.readFileSync(other, 'utf8')).toBe('other\n');
  });

  // regression for: a fifo at the path: open(O_WRONLY) waited for a reader (forever, if none came), and with one
  // the whole report went to whoever read the fifo.
  it('a fifo, with a reader at the other end, is refused and gets nothing', async () => {
    const out = path.join(tmpDir(), 'r.html');
    const mk = spawn('mkfifo', [out]);
    expect(await new Promise((resolve) => mk.on('exit', resolve))).toBe(0);
    // The neighbour's reader: this process holds a read end (so an open for writing finds one), cat drains it.
    const readEnd = fs.openSync(out, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    const cat = spawn('cat', [out], { stdio: ['ignore', 'pipe', 'inherit'] });
    let got = 0;
    cat.stdout.on('data', (b: Buffer) => (got += b.length));
    try {
      await expect(reportCommand(ep, { output: out })).rejects.toThrow(`cannot write ${out}: it is a fifo; labtel writes only regular files`);
      expect(fs.readSync(readEnd, Buffer.alloc(16), 0, 16, null)).toBe(0);
    } finally {
      fs.closeSync(readEnd);
      cat.kill();
    }
    expect(got).toBe(0);
  });

  it('a file labtel\'s user owns (an older report) is rewritten whole, 0640', async () => {
    const out = path.join(tmpDir(), 'r.html');
    fs.writeFileSync(out, 'x'.repeat(1 << 20), { mode: 0o644 });
    vi.spyOn(console, 'error').mockImplementation(() => {});
    expect(await reportCommand(ep, { output: out })).toBe(0);
    const html = fs.readFileSync(out, 'utf8');
    expect(html).toMatch(/^<!doctype html>/i);
    expect(html).not.toContain('xxxx');
    expect(fs.statSync(out).mode & 0o7777).toBe(0o640);
  });
});

describe('labtel pull: what is already at a pulled rows file', () => {
  // regression for: a fifo at a pulled rows file: the append's open(O_WRONLY) waited for a reader, so the pull hung.
  it('a fifo is refused, naming it; the pull does not wait on it', async () => {
    const nats = await startNats();
    await publish(nats.url, [['labtel.lab.ep.host_proc', JSON.stringify({ source: 'host_proc', t_mono_ns: 0, seq: 0 })]]);
    const out = path.join(tmpDir(), 'pulled');
    fs.mkdirSync(path.join(out, 'lab', 'ep'), { recursive: true });
    const rows = path.join(out, 'lab', 'ep', 'telemetry-proc.jsonl');
    const mk = spawn('mkfifo', [rows]);
    expect(await new Promise((resolve) => mk.on('exit', resolve))).toBe(0);
    // With a reader (the neighbour's): refused, and the row does not reach it.
    const readEnd = fs.openSync(rows, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    try {
      await expect(pull({ servers: [nats.url], stream: 'LABTEL', out, durable: 'fifo-read' })).rejects.toThrow(`cannot write ${rows}: it is a fifo; labtel writes only regular files`);
      expect(fs.readSync(readEnd, Buffer.alloc(16), 0, 16, null)).toBe(0);
    } finally {
      fs.closeSync(readEnd);
    }
    // Without a reader: refused at once (ENXIO), not waited on.
    await expect(pull({ servers: [nats.url], stream: 'LABTEL', out, durable: 'fifo' })).rejects.toThrow(`cannot write ${rows}: it is a fifo; labtel writes only regular files (ENXIO)`);
  });

  // regression for: a fifo at a pulled episode's .pull-state.json: reading it waited for a writer, so the pull hung.
  it('a fifo at the pull state is not waited on: read as no state, and replaced by a 0640 file', async () => {
    const nats = await startNats();
    await publish(nats.url, [['labtel.lab.ep.host_proc', JSON.stringify({ source: 'host_proc', t_mono_ns: 0, seq: 0 })]]);
    const out = path.join(tmpDir(), 'pulled');
    fs.mkdirSync(path.join(out, 'lab', 'ep'), { recursive: true });
    const state = path.join(out, 'lab', 'ep', '.pull-state.json');
    const mk = spawn('mkfifo', [state]);
    expect(await new Promise((resolve) => mk.on('exit', resolve))).toBe(0);
    expect((await pull({ servers: [nats.url], stream: 'LABTEL', out, durable: 'state' })).rows).toBe(1);
    expect(fs.lstatSync(state).isFile()).toBe(true);
    expect(fs.statSync(state).mode & 0o7777).toBe(0o640);
  });
});
