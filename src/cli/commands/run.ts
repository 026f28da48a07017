import { runEpisode } from '../../agent/run-episode.js';
import { loadManifest } from '../../manifest/load.js';
import { formatSummary } from '../print-summary.js';

export async function runCommand(manifestPath: string, opts: { force?: boolean; quiet?: boolean }): Promise<number> {
  const manifest = loadManifest(manifestPath);
  const { dir, summary } = await runEpisode({
    manifest,
    force: opts.force,
    handleSignals: true,
    log: opts.quiet ? undefined : (l) => console.error(`labtel: ${l}`),
  });
  console.log(formatSummary(dir, summary));
  return Object.values(summary.collectors).some((c) => c.status === 'failed') ? 1 : 0;
}
