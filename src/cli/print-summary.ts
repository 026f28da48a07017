import type { EpisodeSummary, NatsForwardingSummary } from '../agent/summary.js';

/** One line: what reached NATS, and what remains for `labtel forward`. */
export function formatForwarding(n: NatsForwardingSummary): string {
  const sources = Object.entries(n.by_source);
  const forwarded = sources.reduce((k, [, s]) => k + s.forwarded, 0);
  const stubs = sources.reduce((k, [, s]) => k + s.stubs, 0);
  const left = sources.filter(([, s]) => s.remaining > 0).map(([src, s]) => `${s.remaining} ${src}`);
  const each = sources.filter(([, s]) => s.forwarded > 0).map(([src, s]) => `${src} ${s.forwarded}`).join(', ');
  const sent = `${forwarded} rows forwarded to ${n.stream}${each ? ` (${each})` : ''}${stubs ? `, ${stubs} of them as stubs` : ''}`;
  return n.complete ? `forwarding: nats: complete, ${sent}` : `forwarding: nats: INCOMPLETE, ${sent}; remaining: ${left.join(', ') || 'none'}${n.error ? ` (${n.error})` : ''}; run: ${n.resume}`;
}

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
  if (s.forwarding?.nats) lines.push('', formatForwarding(s.forwarding.nats));
  return lines.join('\n');
}
