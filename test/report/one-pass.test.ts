// The report in one pass: verify's verdict and the panels' rows come from
// one read of each file (verifyEpisode's onRow), where the report used to
// parse every file again. The HTML must stay byte for byte what the old
// path wrote (test/report/legacy/: a frozen copy of src/report before the
// change), on a generated episode long enough to be binned, and on episodes
// made hostile: lines that are no rows, a partial last line, lost rows,
// restarts, a tid reused, rows out of time order, guest keys named
// __proto__, a qmp reconnect told only in the agent's rows, a QMP event
// outside the episode, a skipped collector's and an unselected collector's
// files, no summary.json, no rows at all.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { generateEpisode } from '../../scripts/bench/gen-episode.js';
import { MAX_POINTS } from '../../src/report/panels.js';
import { renderReport } from '../../src/report/render.js';
import { tmpDir } from '../helpers/tmp.js';
import { renderReport as legacyReport } from './legacy/render.js';

type Row = Record<string, unknown>;

function generated(seconds: number): string {
  const dir = path.join(tmpDir(), 'ep');
  fs.mkdirSync(dir);
  generateEpisode(dir, seconds, { cgroup: false }); // the frozen report knew no host_cgroup rows (test/report/cgroup-panels.test.ts draws them)
  return dir;
}

/** Rewrites telemetry-<name>.jsonl line by line (`edit` returns the lines to write in place of each; its rows parsed). */
function editLines(dir: string, name: string, edit: (line: string, row: Row, i: number) => string[]): void {
  const file = path.join(dir, `telemetry-${name}.jsonl`);
  const lines = fs.readFileSync(file, 'utf8').split('\n').slice(0, -1);
  fs.writeFileSync(file, lines.flatMap((l, i) => edit(l, JSON.parse(l) as Row, i)).map((l) => `${l}\n`).join(''));
}

function editJson(dir: string, name: string, edit: (o: Row) => void): void {
  const file = path.join(dir, name);
  const o = JSON.parse(fs.readFileSync(file, 'utf8')) as Row;
  edit(o);
  fs.writeFileSync(file, JSON.stringify(o));
}

/** The data island: the part of the HTML the two paths build (the rest is the same template). */
const island = (html: string) => html.slice(html.indexOf('<script type="application/json"'), html.indexOf('</script>', html.indexOf('<script type="application/json"')));

/** Panels added to the report since the frozen copy: taken out of today's HTML (and from its markers' panels) before the comparison. */
const SINCE_LEGACY = new Set(['proc-run-delay']);

/** Today's report without the panels added since the legacy copy: the same data island, re-serialized as render.ts serializes it. */
function withoutNewPanels(r: ReturnType<typeof renderReport>): ReturnType<typeof renderReport> {
  const a = r.html.indexOf('<script type="application/json"');
  const from = r.html.indexOf('>', a) + 1;
  const to = r.html.indexOf('</script>', from);
  const data = JSON.parse(r.html.slice(from, to)) as { panels: Array<{ id: string }>; markers: Array<{ kind: string; panels?: string[] }> };
  const dropped = data.panels.filter((p) => SINCE_LEGACY.has(p.id)).length;
  data.panels = data.panels.filter((p) => !SINCE_LEGACY.has(p.id));
  let gone = 0; // markers of the new panels alone: counted in breaks (all markers but QMP's events)
  data.markers = data.markers.filter((m) => {
    if (!m.panels) return true;
    m.panels = m.panels.filter((p) => !SINCE_LEGACY.has(p));
    if (m.panels.length) return true;
    gone++;
    return false;
  });
  const html = r.html.slice(0, from) + JSON.stringify(data).replace(/</g, '\\u003c') + r.html.slice(to);
  return { html, panels: r.panels - dropped, markers: r.markers, breaks: r.breaks - gone };
}

function expectSameHtml(dir: string): { html: string } {
  const want = legacyReport(dir);
  const got = withoutNewPanels(renderReport(dir));
  // The data first: a difference there is shown where it is, not as two 3 MB strings.
  const a = island(got.html);
  const b = island(want.html);
  if (a !== b) {
    let i = 0;
    while (a[i] === b[i]) i++;
    expect(a.slice(Math.max(0, i - 200), i + 200), `the data islands part at character ${i}`).toBe(b.slice(Math.max(0, i - 200), i + 200));
  }
  expect(got.html === want.html, 'the HTML is byte-identical to the old path').toBe(true);
  expect({ panels: got.panels, markers: got.markers, breaks: got.breaks }).toEqual({ panels: want.panels, markers: want.markers, breaks: want.breaks });
  return got;
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('labtel report in one pass, byte-identical to the old path', () => {
  it('a generated episode long enough that its series are binned', { timeout: 120_000 }, () => {
    // 2,100 s: proc's 21,000 samples and netflow's 21,000 buckets are over MAX_POINTS, so the binning is compared too.
    expect(2100 * 10).toBeGreaterThan(MAX_POINTS);
    const dir = generated(2100);
    const r = expectSameHtml(dir);
    expect(r.html).toContain('"verdict":"ok"');
  });

  it('hostile lines, lost rows, restarts, a reused tid, rows out of time order, guest keys named __proto__, a reconnect told by the agent, an event outside the episode', { timeout: 60_000 }, () => {
    const dir = generated(60);
    editLines(dir, 'proc', (l, r, i) => {
      if (i === 30) return ['not json', '[1,2]', '42', 'null', '{"source":"host_proc","t_mono_ns":"x","seq":3}', `${l}\r`];
      if (i >= 100 && i < 104) return []; // lost rows, across two samples
      if (i >= 300 && i < 330) return [JSON.stringify({ ...r, pid: 5151, starttime: 9000, cpu_user_jiffies: 1 })]; // a restart under a new pid
      if (r.tid === 4243 && i > 400) return [JSON.stringify({ ...r, starttime: 7777 })]; // a tid reused by a new thread
      if (i === 450) return [JSON.stringify({ ...r, t_mono_ns: 1 })]; // out of time order
      if (i === 460) return [JSON.stringify({ ...r, cpu_user_jiffies: null, rss_bytes: null, null_reasons: { cpu_user_jiffies: 'gone', rss_bytes: 'gone' } })];
      if (i === 117) return []; // a sample's process row lost: its threads are keyed by their pid
      if (i >= 118 && i < 126 && r.tid === 4245) return [JSON.stringify({ ...r, starttime: { odd: 1 } })];
      // Two threads naming one vCPU in a sample: a value against a null, either way round (the next sample rates them).
      if (i === 145 || i === 154) return [l, JSON.stringify({ ...r, tid: 9999, cpu_user_jiffies: i === 145 ? null : 7 })];
      if (i === 146 || i === 155) return [JSON.stringify({ ...r, vcpu: 0 })];
      if (i >= 200 && i < 260 && r.tid === 4247) return [JSON.stringify({ ...r, tid: null, comm: undefined, vcpu: 'x' })];
      if (i >= 260 && i < 280 && r.tid === 4248) return [JSON.stringify({ ...r, starttime: '5008|1', vcpu: null, comm: i % 2 ? 'a' : 'b' })];
      if (r.tid === 4249 && i > 600 && i < 640) return [JSON.stringify({ ...r, cpu_user_jiffies: 1.7e308, cpu_sys_jiffies: 1.7e308 })]; // ticks Infinity, their difference NaN
      if (i === 500) return [l, JSON.stringify({ ...r, seq: r.seq, cpu_user_jiffies: 99999 })]; // a second process row at one time
      return [l];
    });
    fs.appendFileSync(path.join(dir, 'telemetry-proc.jsonl'), '{"source":"host_proc","t_mono_ns":99'); // a partial last line
    editLines(dir, 'guest_agent', (l, r, i) => {
      if (i === 10) return ['{"source":"guest","t_mono_ns":5250000000,"seq":10,"kind":"line","guest":{"__proto__":{"polluted":1},"constructor":2,"a":{"b":{"c":{"d":1}},"s":"text"},"n":1e400,"z":-0,"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8},"guest":{"dup":1}}'];
      if (i === 20) return [JSON.stringify({ ...r, connected: false })];
      if (i === 40) return [];
      return [l];
    });
    editLines(dir, 'perf', (l, r, i) => {
      if (i === 50) return [JSON.stringify({ ...r, cycles: null, null_reasons: { cycles: '<not counted>' } })];
      if (i === 80) return [JSON.stringify({ ...r, run: 1, perf_interval_s: 0.2, process_event: 'started' })];
      if (i === 120) return [JSON.stringify({ ...r, cpu_clock_ms: 1e9 })]; // impossible: dropped and marked
      if (i === 130) return [JSON.stringify({ ...r, page_faults: 1.7e308, interval_s: 0.01 })]; // a rate past the largest double: Infinity, drawn as null
      if (i === 131) return [JSON.stringify({ ...r, context_switches: -0 })];
      return [l];
    });
    editLines(dir, 'netflow', (l, r, i) => {
      if (i === 70) return [l, JSON.stringify({ ...r, seq: (r.seq as number) + 1, partial: true })]; // a capture restarted inside the bucket
      if (i === 200) return [JSON.stringify({ ...r, t_mono_ns: (r.t_mono_ns as number) + 5e9 })];
      return [l];
    });
    editLines(dir, 'qmp', (l, r, i) => {
      if (i === 20) return [JSON.stringify({ ...r, block: null, null_reasons: { block: 'no answer' } })];
      if (i === 30) return [JSON.stringify({ ...r, block: { disk0: { rd_bytes: 0, wr_bytes: 0 } } })]; // counters went backwards
      return [l];
    });
    fs.appendFileSync(path.join(dir, 'telemetry-qmp.jsonl'), `${JSON.stringify({ source: 'qmp_event', t_mono_ns: 900e9, seq: 999, event: 'SHUTDOWN', data: null, qemu_wall_ns: 1, time_source: 'qemu' })}\n`);
    fs.writeFileSync(
      path.join(dir, 'telemetry-agent.jsonl'),
      [
        { source: 'agent', t_mono_ns: 40.5e9, seq: 0, event: 'collector_error', collector: 'qmp', message: 'reconnecting: ECONNRESET' },
        { source: 'agent', t_mono_ns: 41e9, seq: 1, event: 'collector_error', collector: 'proc', message: 'reconnecting' },
      ]
        .map((r) => `${JSON.stringify(r)}\n`)
        .join('') + 'garbage\n',
    );
    const r = expectSameHtml(dir);
    expect(r.html).toContain('qmp: reconnected');
    expect(r.html).toContain('target restarted');
  });

  it("a skipped collector's file and an unselected collector's file are still drawn; no summary.json", { timeout: 60_000 }, () => {
    const dir = generated(30);
    editJson(dir, 'summary.json', (s) => {
      (s.collectors as Record<string, Row>).perf = { ...(s.collectors as Record<string, Row>).perf, status: 'skipped', reason: 'crafted' };
    });
    editJson(dir, 'episode.json', (e) => {
      delete ((e.manifest as Row).collectors as Row).netflow;
    });
    const skipped = expectSameHtml(dir);
    expect(skipped.html).toContain('perf counters per second');
    expect(skipped.html).toContain('Packets per bucket');
    fs.rmSync(path.join(dir, 'summary.json'));
    expectSameHtml(dir);
  });

  it('a character cut by the 4 MiB read boundary, and a zero-filled line past 16 MiB, in the one pass', { timeout: 60_000 }, () => {
    // Regression for: the report's own reader decoded each 4 MiB read apart (a U+FFFD in a guest key); the pass that reads for it now must not.
    const dir = generated(10);
    const name = 'é€😀'.repeat(8);
    const file = path.join(dir, 'telemetry-guest_agent.jsonl');
    const rows = fs.readFileSync(file, 'utf8');
    const prefix = `{"source":"guest","t_mono_ns":10300000000,"seq":20,"kind":"line","guest_t":10,"guest":{"`;
    const filler = (pad: number) => JSON.stringify({ source: 'guest', t_mono_ns: 10_200_000_000, seq: 20, kind: 'unknown', pad: 'x'.repeat(pad) });
    const pad = (4 << 20) - 1 - Buffer.byteLength(rows) - Buffer.byteLength(filler(0)) - 1 - Buffer.byteLength(prefix);
    const text = `${rows}${filler(pad)}\n${prefix}${name}":7}}\n`;
    expect(Buffer.byteLength(text.slice(0, text.indexOf(name)))).toBe((4 << 20) - 1);
    fs.writeFileSync(file, text);
    const proc = path.join(dir, 'telemetry-proc.jsonl');
    fs.writeFileSync(proc, Buffer.concat([fs.readFileSync(proc), Buffer.alloc((16 << 20) + 5), Buffer.from('\n')]));
    expect(expectSameHtml(dir).html).toContain(`"${name}"`);
  });

  it('an episode with no rows at all', { timeout: 60_000 }, () => {
    const dir = generated(5);
    for (const f of fs.readdirSync(dir)) if (f.startsWith('telemetry-')) fs.writeFileSync(path.join(dir, f), '');
    expect(expectSameHtml(dir).html).toContain('"panels":[]');
  });

  it('reads each file once and parses each row at most once: verify and the panels share the pass', { timeout: 60_000 }, () => {
    // Regression for: renderReport ran verify, then read and JSON.parsed every file again for the panels (rowsOf).
    const dir = generated(60);
    const files = fs.readdirSync(dir).filter((f) => f.startsWith('telemetry-'));
    const bytes = files.reduce((k, f) => k + fs.statSync(path.join(dir, f)).size, 0);
    expect(files.length).toBeGreaterThan(4);
    const open = vi.spyOn(fs, 'openSync');
    const parse = vi.spyOn(JSON, 'parse');
    const opened = () => files.map((f) => open.mock.calls.filter(([p]) => path.basename(String(p)) === f).length);
    renderReport(dir);
    expect(opened(), `each of ${files.join(', ')} opened once`).toEqual(files.map(() => 1));
    // The text JSON.parse was given: at most the files' bytes once, and a little (verify may parse a row's object values apart).
    expect(parse.mock.calls.reduce((k, [text]) => k + String(text).length, 0)).toBeLessThanOrEqual(1.25 * bytes);
    open.mockClear();
    legacyReport(dir);
    expect(opened(), 'the old path read the panels\' files twice: the check above would catch it').toEqual(files.map(() => 2));
  });
});
