// `labtel verify <episode-dir>`: the verdict per collector, for a person or
// (--json) for the verification layer. Exit 0 only when every collector is
// ok (--allow-degraded also accepts degraded), 1 otherwise, 2 when the
// directory is not an episode.
// The largest file's tail is offered to a worker thread first (src/verify/split-scan.ts), so that it loads
// its modules while this thread loads verify's.
import type { VerifyReport } from '../../verify/report.js';
import { startSplitScan } from '../../verify/split-scan.js';

export function formatVerify(dir: string, r: VerifyReport): string {
  const lines = [`episode ${r.episode} in ${dir}: ${r.verdict.toUpperCase()}`, ...r.reasons.map((x) => `  ${x}`), ''];
  for (const [name, c] of Object.entries(r.collectors)) {
    lines.push(`${name.padEnd(12)} ${c.verdict.padEnd(9)} ${String(c.rows).padStart(8)} rows`);
    for (const why of c.reasons) lines.push(`${''.padEnd(12)}   - ${why}`);
  }
  return lines.join('\n');
}

export async function verifyCommand(dir: string, opts: { json?: boolean; allowDegraded?: boolean }): Promise<number> {
  const split = startSplitScan(dir);
  let r: VerifyReport;
  try {
    const { verifyEpisode } = await import('../../verify/verify-episode.js');
    r = verifyEpisode(dir, { split });
  } finally {
    split?.cancel();
  }
  console.log(opts.json ? JSON.stringify(r, null, 2) : formatVerify(dir, r));
  return r.verdict === 'ok' || (r.verdict === 'degraded' && opts.allowDegraded) ? 0 : 1;
}
