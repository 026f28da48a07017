// `labtel bucketize --episode DIR` for an episode whose pcap collector ran:
// its saved capture replayed with the live netflow's settings and capture
// runs, into the rows the live collector wrote.
import fs from 'node:fs';
import { replayEpisode, type EpisodeCapture } from '../../collectors/netflow/offline/episode-replay.js';
import { JsonlWriter } from '../../rows/jsonl-writer.js';
import { bucketizeOptions, readEpisodeFlag, UsageError, type BucketizeFlags } from './bucketize-options.js';
import { recordsWord } from './records-word.js';

export async function replayCommand(dir: string, capture: EpisodeCapture, f: BucketizeFlags): Promise<number> {
  if (f.outDir !== undefined) throw new UsageError('--out-dir: an episode replays into one file (-o FILE or -)');
  if (f.originWallNs !== undefined) throw new UsageError('--episode and --origin-wall-ns: give one of them');
  if (!f.fill) throw new UsageError("--no-fill: a live episode's netflow rows are filled, and its replay is too");
  if (f.skipBad) throw new UsageError('--skip-bad: the live collector skipped nothing, and its replay does not either');
  const netflow = readEpisodeFlag(dir).episode.manifest?.collectors?.netflow;
  const options = bucketizeOptions(f, netflow ?? {});

  const out = f.output ?? '-';
  if (out !== '-' && f.force) fs.rmSync(out, { force: true });
  const availableInDeployment = netflow?.available_in_deployment ?? true;
  const writer = new JsonlWriter(out === '-' ? { fd: 1, name: 'stdout' } : out, { availableInDeployment });
  try {
    const r = replayEpisode(dir, capture, writer, { ...options, originWallNs: options.originWallNs! });
    if (r.error) console.error(`labtel: ${dir}: ${r.error} (${r.rows} rows written before it)`);
    if (r.incomplete) console.error(`labtel: ${dir}: ${r.incomplete}`);
    // tcpdump never writes a record over its own snaplen: such records mean the saved files were altered.
    if (r.recordsOverSnaplen) console.error(`labtel: ${dir}: read ${recordsWord(r.recordsOverSnaplen)} longer than the saved capture's snaplen, as libpcap does (cut to the snaplen): the live collector never wrote such a record, so these rows may differ from the live ones`);
    return r.error || r.incomplete ? 1 : 0;
  } finally {
    writer.close();
  }
}
