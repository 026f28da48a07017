// guest_agent's manifest keys at their bounds. max_line_bytes is held to
// 15 MiB: a row is its line plus at most 1 KiB (ROW_OVERHEAD_MAX), and
// labtel verify and report read lines of up to 16 MiB (MAX_LINE in
// src/verify/scan-rows.ts; the report reads through verify's pass), so every
// row labtel writes stays readable.
import { describe, expect, it } from 'vitest';
import { MAX_LINE_BYTES } from '../../../src/collectors/guest_agent/config.js';
import { ROW_OVERHEAD_MAX } from '../../../src/collectors/guest_agent/row-text.js';
import { parseManifest } from '../../../src/manifest/load.js';

const manifest = (guest: object) => ({ output_dir: 'ep', target: { pid: 1234 }, collectors: { guest_agent: { socket: '/run/g.sock', ...guest } } });

describe('guest_agent max_line_bytes', () => {
  // regression for: max_line_bytes allowed 64 MiB while verify and report refuse lines over 16 MiB, so a
  // guest's accepted long line became a row that labtel verify called a bad line and report could not draw.
  it('15 MiB is accepted; 15 MiB + 1 is refused, naming the key, the bound and the value', () => {
    expect(MAX_LINE_BYTES).toBe(15728640);
    expect(MAX_LINE_BYTES + ROW_OVERHEAD_MAX).toBeLessThan(16 << 20);
    expect(parseManifest(manifest({ max_line_bytes: 15728640 })).collectors.guest_agent!.max_line_bytes).toBe(15728640);
    expect(() => parseManifest(manifest({ max_line_bytes: 15728641 }))).toThrow(
      'manifest is not valid:\ncollectors.guest_agent.max_line_bytes: expected at most 15728640 bytes, got 15728641',
    );
  });
});
