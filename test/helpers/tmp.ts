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

/** Aborts after ms; the test's way of saying "run for a while". */
export function abortAfter(ms: number): AbortSignal {
  return AbortSignal.timeout(ms);
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
