// The rows of a telemetry file verify does not judge (the agent's own, a
// skipped collector's), for a reader that takes them in verify's pass
// (verifyEpisode's onRow): lines cut as scanFile cuts them, so a reader
// sees the same rows from a judged file and from one read only for it.
import fs from 'node:fs';
import { BoundedLineReader } from '../util/bounded-line-reader.js';
import { MAX_LINE } from './scan-rows.js';

/** Each line of `file` that parses to a JSON object, in order; an unparsable, oversized or unfinished line is passed over. */
export function eachRow(file: string, onRow: (row: Record<string, unknown>) => void): void {
  const lines = new BoundedLineReader(MAX_LINE, (line) => {
    let row: unknown;
    try {
      row = JSON.parse(line.toString('utf8'));
    } catch {
      return;
    }
    if (typeof row === 'object' && row !== null && !Array.isArray(row)) onRow(row as Record<string, unknown>);
  });
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(4 << 20);
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      lines.push(buf.subarray(0, n));
    }
  } finally {
    fs.closeSync(fd);
  }
}

/** The first row of `source` in `file`, or null: read only as far as it (for a sentence about a source's rows, after the scan). */
export function firstRowOf(file: string, source: string): Record<string, unknown> | null {
  let found: Record<string, unknown> | null = null;
  const tag = Buffer.from(`"source":${JSON.stringify(source)}`);
  const lines = new BoundedLineReader(MAX_LINE, (line) => {
    if (found || !line.includes(tag)) return;
    try {
      const row = JSON.parse(line.toString('utf8')) as unknown;
      if (typeof row === 'object' && row !== null && !Array.isArray(row) && (row as Record<string, unknown>).source === source) found = row as Record<string, unknown>;
    } catch {
      // not a row
    }
  });
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    while (!found) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      lines.push(buf.subarray(0, n));
    }
  } finally {
    fs.closeSync(fd);
  }
  return found;
}
