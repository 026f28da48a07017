import type { EpisodeSummary } from '../agent/summary.js';

/** The summary as a small table for a terminal. */
export function formatSummary(dir: string, s: EpisodeSummary): string {
  const lines = [
    `episode ${s.episode} in ${dir}`,
    `stopped: ${s.exit_reason} after ${((s.t_mono_stop_ns - s.t_mono_start_ns) / 1e9).toFixed(2)} s`,
    '',
    `${'collector'.padEnd(12)} ${'status'.padEnd(8)} ${'rows'.padStart(8)}  details`,
  ];
  for (const [name, c] of Object.entries(s.collectors)) {
    const details = [c.reason, c.end && c.end !== 'failed' ? `ended: ${c.end}` : null, c.errors.length ? `${c.errors.length} errors` : null]
      .filter(Boolean)
      .join('; ');
    lines.push(`${name.padEnd(12)} ${c.status.padEnd(8)} ${String(c.rows).padStart(8)}  ${details}`);
  }
  return lines.join('\n');
}
