// The netflow row layout is declared once per language: the X-macro list in
// native/core/netflow_fields.h (struct, packing, JSON) and the zod schema in
// src/collectors/netflow/rows.ts (docs, verify, the TS twin through
// src/collectors/netflow/fields.ts). These tests hold the two equal, in
// order, across the addon boundary.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { nativeAddon, nativeStatus } from '../../../src/native/addon.js';
import { NETFLOW_AT, NETFLOW_FIELDS, NETFLOW_FORMAT_FIELDS, NETFLOW_ROW_WIDTH } from '../../../src/collectors/netflow/fields.js';
import { netflowRow } from '../../../src/collectors/netflow/rows.js';

const FIXTURE = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/pcap/variety-dumpcap-P.pcap');

/** The addon's field names (its TS type, in src/native/addon.ts, may not list netflowFieldNames yet). */
function nativeNames(): string[] {
  // CI builds the addon; a silent fall back to the TS path would test nothing here.
  expect(nativeStatus().available, nativeStatus().reason).toBe(true);
  return (nativeAddon() as unknown as { netflowFieldNames(): string[] }).netflowFieldNames();
}

describe('netflow row layout', () => {
  it('the addon packs the fields the TS twin unpacks, in the same order (regression for: a field added or moved on one side shifting every later column)', () => {
    const names = nativeNames();
    expect(names.length).toBeGreaterThan(0);
    expect(names).toEqual([...NETFLOW_FIELDS]);
    expect(NETFLOW_ROW_WIDTH).toBe(names.length + 1);
    expect(names.map((n) => NETFLOW_AT[n as keyof typeof NETFLOW_AT])).toEqual(names.map((_, i) => i + 1));
  });

  it('NETFLOW_FIELDS, spelled out for the worker (no zod there), are the schema keys the bucketizer fills, in order (regression for: a field added to the schema and not to the list)', () => {
    expect(NETFLOW_FIELDS.length).toBeGreaterThan(0);
    expect([...NETFLOW_FIELDS]).toEqual(Object.keys(netflowRow.shape).filter((k) => !(NETFLOW_FORMAT_FIELDS as readonly string[]).includes(k)));
  });

  it('the zod schema lists the fields in the order of the JSON line (regression for: docs/rows.md and the schema putting distinct_estimated where no row has it)', () => {
    expect(Object.keys(netflowRow.shape)).toEqual([...NETFLOW_FORMAT_FIELDS, ...nativeNames()]);
  });

  it('the native JSON formatter writes each line with exactly the schema keys, in order (regression for: the generated formatter dropping, adding or reordering a member)', () => {
    const addon = nativeAddon()!;
    expect(nativeStatus().available, nativeStatus().reason).toBe(true);
    const b = new addon.CaptureBucketizer({ bucketNs: 1e8, fillEmpty: true, latenessNs: 0, skipBad: false, guestIps: [], guestMacs: [], bridgeIps: [] });
    let text = '';
    const fd = fs.openSync(FIXTURE, 'r');
    try {
      b.runFd!(fd, { bucketMs: 100, availableInDeployment: true, seq: 0 }, (lines) => (text += Buffer.from(lines).toString('latin1')));
    } finally {
      fs.closeSync(fd);
    }
    const lines = text.split('\n').filter((l) => l !== '');
    expect(lines.length).toBeGreaterThan(0);
    const want = ['source', 't_mono_ns', 'seq', 'available_in_deployment', ...Object.keys(netflowRow.shape)];
    for (const line of lines) {
      const row = JSON.parse(line) as Record<string, unknown>;
      expect(Object.keys(row)).toEqual(want);
      const { source: _s, t_mono_ns: _t, seq: _q, available_in_deployment: _a, ...fields } = row;
      expect(netflowRow.safeParse(fields).success, line).toBe(true);
    }
  });
});
