import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach } from 'vitest';

const made: string[] = [];
afterEach(() => {
  for (const d of made.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

/** A fresh temp directory, removed after the test. */
export function tmpDir(prefix = 'labtel-test-'): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  made.push(d);
  return d;
}

export function readJsonl(file: string): Record<string, unknown>[] {
  const text = fs.readFileSync(file, 'utf8');
  if (text === '') return [];
  if (!text.endsWith('\n')) throw new Error(`${file} ends with a partial line`);
  return text.slice(0, -1).split('\n').map((l, i) => {
    try {
      return JSON.parse(l) as Record<string, unknown>;
    } catch (err) {
      throw new Error(`${file}:${i + 1} is not JSON: ${l.slice(0, 80)}`, { cause: err });
    }
  });
}

/** A signal that never aborts: for a loop that must end by itself (a hang is the test's timeout, not a clock in the test). */
export const never = (): AbortSignal => new AbortController().signal;

/** Aborts after ms; the test's way of saying "run for a while". */
export function abortAfter(ms: number): AbortSignal {
  return AbortSignal.timeout(ms);
}

/** Aborts once the whole rows in `file` satisfy `enough`: "run until these rows are there", with no clock in the test. */
export function abortWhenRows(file: string, enough: (rows: Record<string, unknown>[]) => boolean): AbortSignal {
  const controller = new AbortController();
  const timer = setInterval(() => {
    let text = '';
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      return; // not created yet
    }
    const whole = text.slice(0, text.lastIndexOf('\n') + 1);
    if (enough(whole === '' ? [] : whole.slice(0, -1).split('\n').map((l) => JSON.parse(l) as Record<string, unknown>))) {
      clearInterval(timer);
      controller.abort();
    }
  }, 20);
  timer.unref();
  return controller.signal;
}

/** Aborts once `file` holds at least `lines` whole lines: "run until there are rows", with no clock in the test. */
export function abortWhenLines(file: string, lines = 1): AbortSignal {
  const controller = new AbortController();
  const timer = setInterval(() => {
    let n = 0;
    try {
      n = fs.readFileSync(file, 'utf8').split('\n').length - 1;
    } catch {
      // not created yet
    }
    if (n >= lines) {
      clearInterval(timer);
      controller.abort();
    }
  }, 20);
  return controller.signal;
}
