import { describe, expect, it } from 'vitest';
import { generateEpisode } from '../../../scripts/bench/gen-episode.js';
import { verifyEpisode } from '../../../src/verify/verify-episode.js';
import { tmpDir } from '../../helpers/tmp.js';

describe('gen-episode: the episode bench:report draws is one verify accepts', () => {
  // Regression for: bench:report timed a report of rows that broke their schemas (verify failed every collector
  // but guest_agent), and BENCHMARKS.md described rows (360,000 proc rows, pcap at 1 s) the script never wrote.
  it('every collector is ok, with the rows the generator says it wrote', () => {
    const dir = tmpDir();
    const written = generateEpisode(dir, 100);
    const v = verifyEpisode(dir);
    const collectors = Object.entries(v.collectors);
    expect(collectors.map(([c]) => c).sort()).toEqual(['guest_agent', 'netflow', 'pcap', 'perf', 'proc', 'qmp']);
    for (const [name, c] of collectors) expect(c, name).toMatchObject({ verdict: 'ok', reasons: [] });
    expect(v.verdict).toBe('ok');
    expect(written).toEqual({ host_proc: 9_000, host_cgroup: 100, host_perf: 500, netflow: 1_000, pcap: 102, qmp: 100, qmp_event: 1, guest: 200 });
  });
});
