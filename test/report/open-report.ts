// Opens a labtel report in Debian's chromium (headless, playwright-core) and
// reads back what the page holds: each uPlot's own data and series options
// as the page drew them (not what the TypeScript builder meant to give it),
// the markers each panel draws, its notes, and pixels of its canvas.
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { renderReport } from '../../src/report/render.js';
import { which } from '../../src/util/which.js';
import { available } from '../helpers/programs.js';

export const CHROMIUM = which('chromium');
/** Whether chromium is here; under CI its absence fails the file (helpers/programs.ts). */
export const hasChromium = (): boolean => available(CHROMIUM !== null, 'chromium is not installed');

export interface PagePanel {
  id: string;
  labels: string[];
  spanGaps: boolean[];
  /** uPlot's data as the page holds it: [x, ...series]. */
  data: Array<Array<number | null>>;
  markers: Array<{ t: number; label: string; kind: string }>;
  notes: string[];
}

export interface OpenedReport {
  page: Page;
  panels: PagePanel[];
  errors: string[];
  panel(id: string): PagePanel;
  /** The values of one series of one panel, with their x. */
  series(panel: string, label: string): Array<[number, number | null]>;
  /** Canvas pixels in the column at x (episode seconds) inside the plot area whose colour is within 40 of rgb. */
  pixelsAt(panel: string, x: number, rgb: [number, number, number]): Promise<number>;
}

type U = {
  root: { dataset: Record<string, string> };
  data: Array<Array<number | null>>;
  series: Array<{ label: string; spanGaps?: boolean }>;
  ctx: CanvasRenderingContext2D;
  bbox: { left: number; top: number; width: number; height: number };
  valToPos(v: number, k: string, c: boolean): number;
};
type Rep = { plots: U[]; markers: Array<{ t: number; label: string; kind: string; panels?: string[] | null }>; notes?: Record<string, string[]> };
type CanvasRenderingContext2D = { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } };

let browser: Browser | null = null;

export async function closeBrowser(): Promise<void> {
  await browser?.close();
  browser = null;
}

/** Renders the episode's report to DIR/report.html and opens it. */
export async function openReport(dir: string): Promise<OpenedReport> {
  const file = path.join(dir, 'report.html');
  fs.writeFileSync(file, renderReport(dir).html);
  browser ??= await chromium.launch({ executablePath: CHROMIUM!, args: ['--no-sandbox'] });
  const page = await browser.newPage({ viewport: { width: 1200, height: 1000 } });
  const errors: string[] = [];
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('request', (req) => !req.url().startsWith('file:') && errors.push(`fetched ${req.url()}`));
  await page.goto(`file://${file}`);
  await page.waitForFunction(() => (globalThis as unknown as { labtelReport?: unknown }).labtelReport !== undefined);
  const panels = await page.evaluate(() => {
    const rep = (globalThis as unknown as { labtelReport: Rep }).labtelReport;
    return rep.plots.map((u) => {
      const id = u.root.dataset.panel!;
      return {
        id,
        labels: u.series.slice(1).map((s) => s.label),
        spanGaps: u.series.slice(1).map((s) => s.spanGaps === true),
        data: u.data.map((c) => Array.from(c, (v) => (v === undefined ? null : v))),
        // (read defensively, so that a report from before markers had panels and kinds fails on its values, not here)
        markers: rep.markers.filter((m) => !m.panels || m.panels.includes(id)).map(({ t, label, kind }) => ({ t, label, kind })),
        notes: rep.notes?.[id] ?? [],
      };
    });
  });
  const panel = (id: string) => {
    const p = panels.find((q) => q.id === id);
    if (!p) throw new Error(`the page has no panel ${id} (it has ${panels.map((q) => q.id).join(', ')})`);
    return p;
  };
  return {
    page,
    panels,
    errors,
    panel,
    series(id, label) {
      const p = panel(id);
      const i = p.labels.indexOf(label);
      if (i < 0) throw new Error(`panel ${id} has no series ${label} (it has ${p.labels.join(', ')})`);
      return p.data[0]!.map((x, j) => [x!, p.data[i + 1]![j]!] as [number, number | null]);
    },
    pixelsAt: (id, x, rgb) =>
      page.evaluate(
        ([id, x, rgb]) => {
          const u = (globalThis as unknown as { labtelReport: Rep }).labtelReport.plots.find((p) => p.root.dataset.panel === id)!;
          const b = u.bbox;
          const px = Math.round(u.valToPos(x, 'x', true));
          const img = u.ctx.getImageData(px, b.top, 1, b.height).data;
          let n = 0;
          for (let i = 0; i < img.length; i += 4) {
            if (Math.abs(img[i]! - rgb[0]) < 40 && Math.abs(img[i + 1]! - rgb[1]) < 40 && Math.abs(img[i + 2]! - rgb[2]) < 40 && img[i + 3]! > 0) n++;
          }
          return n;
        },
        [id, x, rgb] as const,
      ),
  };
}
