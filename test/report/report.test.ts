// labtel report in a real browser: Debian's chromium, headless, driven by
// playwright-core. The page must load with no console errors, draw every
// panel, and put a QMP event's marker at its time on the episode clock.
// Skips only where chromium or QEMU is absent (under CI that fails the file:
// .ci/run installs both). The screenshot is kept in test-artifacts/report.png.
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { chromium } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { runEpisode } from '../../src/agent/run-episode.js';
import { parseManifest } from '../../src/manifest/load.js';
import { renderReport } from '../../src/report/render.js';
import { ROOT } from '../helpers/cli.js';
import { hasQemu, startQemu } from '../helpers/qemu.js';
import { readJsonl, tmpDir } from '../helpers/tmp.js';
import { CHROMIUM, hasChromium } from './open-report.js';

describe.skipIf(!hasChromium() || !hasQemu())('labtel report in a real browser', () => {
  it('loads with no console errors, draws every panel, and marks the RESUME event at its time', { timeout: 120_000 }, async () => {
    // A real episode: proc on a real QEMU, and qmp, with a cont that makes a RESUME event.
    const q = await startQemu();
    const dir = path.join(tmpDir(), 'ep');
    const stop = new AbortController();
    const done = runEpisode({
      manifest: parseManifest({ output_dir: dir, target: { qmp_socket: q.qmp }, collectors: { proc: { interval_ms: 50, threads: true, cgroup_interval_ms: 200 }, qmp: { socket: q.qmp, interval_ms: 200 } } }),
      stop: stop.signal,
    });
    const qmpFile = path.join(dir, 'telemetry-qmp.jsonl');
    while (!(fs.existsSync(qmpFile) && fs.statSync(qmpFile).size > 0)) await sleep(50);
    await sleep(600);
    await q.driver.execute('cont');
    await sleep(1200);
    stop.abort();
    await done;
    const resume = readJsonl(qmpFile).find((r) => r.event === 'RESUME')!;
    expect(resume).toBeDefined();

    const r = renderReport(dir);
    const file = path.join(dir, 'report.html');
    fs.writeFileSync(file, r.html);
    expect(r.html).not.toMatch(/<script[^>]+src=|<link[^>]+href=/); // self-contained: nothing fetched

    const browser = await chromium.launch({ executablePath: CHROMIUM!, args: ['--no-sandbox'] });
    try {
      const page = await browser.newPage({ viewport: { width: 1200, height: 1000 } });
      const errors: string[] = [];
      page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
      page.on('pageerror', (e) => errors.push(e.message));
      page.on('request', (req) => !req.url().startsWith('file:') && errors.push(`fetched ${req.url()}`));
      await page.goto(`file://${file}`);
      await page.waitForFunction(() => (globalThis as unknown as { labtelReport?: { plots: unknown[] } }).labtelReport?.plots.length);
      const seen = await page.evaluate((t) => {
        type U = { root: { dataset: Record<string, string> }; ctx: { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } }; bbox: { left: number; top: number; width: number; height: number }; valToPos(v: number, k: string, c: boolean): number };
        const rep = (globalThis as unknown as { labtelReport: { plots: U[] } }).labtelReport;
        return rep.plots.map((u) => {
          const b = u.bbox;
          const img = u.ctx.getImageData(b.left, b.top, b.width, b.height).data;
          let drawn = 0;
          for (let i = 3; i < img.length; i += 4) if (img[i]! > 0) drawn++;
          const x = Math.round(u.valToPos(t, 'x', true));
          let marker = false;
          for (let dx = -1; dx <= 1; dx++) {
            const [r, g, bl] = u.ctx.getImageData(x + dx, b.top + 2, 1, 1).data;
            if (r! > 150 && g! < 90 && bl! < 90) marker = true;
          }
          return { panel: u.root.dataset.panel, drawn, marker };
        });
      }, (resume.t_mono_ns as number) / 1e9);
      fs.mkdirSync(path.join(ROOT, 'test-artifacts'), { recursive: true });
      await page.screenshot({ path: path.join(ROOT, 'test-artifacts', 'report.png'), fullPage: true });
      expect(errors).toEqual([]);
      expect(seen).toHaveLength(5);
      // QMP named the vCPU threads: their run delay has a panel of its own; the cgroup's pressure follows proc's panels.
      expect(seen.map((s) => s.panel)).toEqual(['proc-cpu', 'proc-rss', 'proc-run-delay', 'cgroup-pressure', 'qmp-block']);
      for (const s of seen) {
        expect(s.drawn, `panel ${s.panel} drew nothing`).toBeGreaterThan(500);
        expect(s.marker, `panel ${s.panel} has no marker at the RESUME event`).toBe(true);
      }
      // The verdict per collector is on top.
      expect(await page.locator('#verdict .badge').allTextContents()).toEqual(['episode: ok', 'proc: ok', 'qmp: ok']);
    } finally {
      await browser.close();
    }
  });
});
