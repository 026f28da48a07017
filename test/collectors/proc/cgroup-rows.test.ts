// host_cgroup's schema and the reader's list of fields are one list, and every measured field is marked so.
import { describe, expect, it } from 'vitest';
import { hostCgroupRow } from '../../../src/collectors/proc/cgroup-rows.js';
import { CGROUP_VALUE_FIELDS } from '../../../src/collectors/proc/cgroup-read.js';
import { procConfig } from '../../../src/collectors/proc/config.js';
import { isMeasurement } from '../../../src/rows/measurement.js';
import { SOURCES } from '../../../src/rows/envelope.js';
import { fileOfSource } from '../../../src/sinks/nats/subjects.js';

const IDENTITY = ['pid', 'cgroup_path', 'cgroup_mount', 'cgroup_inode', 'cgroup_root', 'cgroup_other_processes', 'cgroup_event', 'interval_s'];

describe('host_cgroup rows', () => {
  // Regression for: a field the reader fills that the strict schema refuses (every row fails verify), or one it never fills.
  it('has exactly the fields the reader fills, after its identity fields, each value a measurement', () => {
    expect(CGROUP_VALUE_FIELDS.length).toBe(18);
    expect(Object.keys(hostCgroupRow.shape)).toEqual([...IDENTITY, ...CGROUP_VALUE_FIELDS]);
    for (const f of CGROUP_VALUE_FIELDS) expect(isMeasurement(hostCgroupRow.shape[f as keyof typeof hostCgroupRow.shape]), f).toBe(true);
    for (const f of ['pid', 'cgroup_path', 'cgroup_mount', 'cgroup_inode', 'cgroup_root', 'cgroup_other_processes', 'cgroup_event']) expect(isMeasurement(hostCgroupRow.shape[f as keyof typeof hostCgroupRow.shape]), f).toBe(false);
  });

  it('is a source of its own, in the proc collector\'s file, on by default every second', () => {
    expect(SOURCES).toContain('host_cgroup');
    expect(fileOfSource('host_cgroup')).toBe('proc');
    const c = procConfig.parse({});
    expect([c.cgroup, c.cgroup_interval_ms]).toEqual([true, 1000]);
    expect(procConfig.safeParse({ cgroup_interval_ms: 0 }).success).toBe(false);
  });

  // Regression for: cgroup_interval_ms below what the rows can come at (1 ms: the panel, expecting a row every 3 ms, drew nothing).
  it('refuses a cgroup_interval_ms under 100 with a message that says why', () => {
    const r = procConfig.safeParse({ cgroup_interval_ms: 1 });
    expect(r.success).toBe(false);
    expect(r.error!.issues[0]!.message).toMatch(/^expected at least 100 \(ms\), got 1: host_cgroup rows are read on the proc loop's ticks/);
    expect(procConfig.parse({ cgroup_interval_ms: 100 }).cgroup_interval_ms).toBe(100);
  });
});
