// Issue 19 point 2, reviewed: bench:bucketize judges the targets and
// never hides a miss. When labtel itself fails on a case (a crash, an abort,
// the OOM killer on the ~1 GB memory case), the target it was to meet is not
// met: "not judged" is for an alternative that could not run.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';

describe('bench:bucketize verdicts', () => {
  it('labtel failing on the memory case: the peak RSS target is not met, and the line says labtel failed', () => {
    // regression for: a failed labtel run was dropped from the verdicts (timing() returned null), so the target read
    // "**not judged** (labtel did not run)": a labtel that died on the 1 GB capture passed for an unmeasured target.
    const dir = tmpDir();
    // The memory case's capture, placed where the bench keeps its captures (it reuses a file whose size its stats
    // give): bytes labtel refuses (exit 1), standing in for any failure of labtel on that case.
    const big = path.join(dir, 'mixed-3000-seed4.pcap');
    fs.writeFileSync(big, Buffer.alloc(300_000, 0xcf));
    const stats = { packets: 3000, file_bytes: 300_000, small: false, seed: 4, ipv4_tcp: 0, ipv4_udp: 0, icmp: 0, ipv6_tcp: 0, arp: 0, vlan: 0, from_guest: 0, frame_bytes: { min: 0, max: 0, mean: 0 }, span_s: 0 };
    fs.writeFileSync(`${big}.json`, JSON.stringify(stats));
    const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'scripts', 'bench', 'bucketize.ts')], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...process.env, BENCH_QUICK: '1', BENCH_RUNS: '1', BENCH_DIR: dir, BENCH_SMALL_PACKETS: '2000', BENCH_MIXED_PACKETS: '2000', BENCH_BIG_PACKETS: '3000' },
      maxBuffer: 1 << 26,
    });
    expect(r.status, r.stderr).toBe(0);
    const line = r.stdout.split('\n').find((l) => l.startsWith('- peak RSS at most 150 MiB'));
    expect(line, r.stdout).toBeDefined();
    expect(line).toContain('**not met**');
    expect(line).toContain('labtel failed');
    expect(line).toContain('not a pcap or pcapng capture');
  }, 120_000);
});
