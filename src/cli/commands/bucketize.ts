// `labtel bucketize`: netflow rows from stored captures. One file runs on this
// thread; several are spread over worker threads, one per core.
// Each path imports what it alone needs, when it runs: one capture on the
// addon with plain flags loads neither zod, the row schema nor the pure-TS
// twin (they were most of the command's start-up).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { CaptureStatus } from '../../collectors/netflow/bucketizer.js';
import { JsonlWriter } from '../../rows/jsonl-writer.js';
import { bucketizeNativeFile } from '../../collectors/netflow/offline/bucketize-native.js';
import { Progress } from '../../collectors/netflow/offline/progress.js';
import type { BucketizeFlags } from './bucketize-options.js';
import { plainBucketizeOptions } from './bucketize-plain-flags.js';
import { UsageError } from './bucketize-usage.js';
import { recordsWord } from './records-word.js';

/** The reader's count of classic records over the file's snaplen (native and TS status(); see src/collectors/netflow/ts/capture-reader.ts). */

function report(input: string, rows: number, s: CaptureStatus, maxEmptyBuckets: number): boolean {
  const over = s.recordsOverSnaplen;
  if (over) console.error(`labtel: ${input}: read ${recordsWord(over)} longer than the file's snaplen, as libpcap does (cut to the snaplen)`);
  if (s.skippedRecords) console.error(`labtel: ${input}: skipped ${s.skippedRecords} bad records (${s.skippedBytes} bytes)`);
  if (s.holes) {
    const gaps = s.holes === 1 ? '1 gap' : `${s.holes} gaps`;
    console.error(
      `labtel: ${input}: ${gaps} between packets (timestamp jumps) longer than --max-empty-buckets ${maxEmptyBuckets} or past the fill budget: ${s.emptyBucketsSkipped} empty buckets not written, each gap counted in the next row's empty_buckets_skipped`,
    );
  }
  if (s.ok) return true;
  const hint = s.errorOffset ? '; --skip-bad skips bad records instead' : '';
  console.error(`labtel: ${input}: at byte ${s.errorOffset}: ${s.error} (${rows} rows written for the ${s.packets} packets before it${hint})`);
  return false;
}

export async function bucketizeCommand(inputs: string[], f: BucketizeFlags): Promise<number> {
  if (f.episode && inputs.length === 0) {
    const capture = (await import('../../collectors/netflow/offline/episode-replay.js')).readEpisodeCapture(f.episode);
    if (capture) return (await import('./bucketize-replay.js')).replayCommand(f.episode, capture, f);
  }
  const options = plainBucketizeOptions(f) ?? (await import('./bucketize-options.js')).bucketizeOptions(f);
  if (inputs.length === 0) {
    if (!f.episode) throw new UsageError('give at least one capture file (or --episode DIR for its network.pcap)');
    inputs = [path.join(f.episode, 'network.pcap')];
  }
  if (f.output !== undefined && f.outDir !== undefined) throw new UsageError('-o and --out-dir: give one of them');
  if (inputs.length > 1 && f.outDir === undefined) throw new UsageError('several captures need --out-dir DIR (one output file each)');
  const sizes = inputs.map((i) => {
    try {
      return fs.statSync(i).size;
    } catch (err) {
      throw new UsageError(`${i}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
    }
  });
  const total = sizes.reduce((a, b) => a + b, 0);
  const progress = new Progress(total);

  if (f.outDir === undefined) {
    const out = f.output ?? '-';
    if (out !== '-' && f.force) fs.rmSync(out, { force: true });
    const writer = new JsonlWriter(out === '-' ? { fd: 1, name: 'stdout' } : out, { availableInDeployment: true });
    try {
      const o = { ...options, onProgress: (b: number, p: number) => progress.update(b, p) };
      const r = bucketizeNativeFile(inputs[0]!, writer, o) ?? (await import('../../collectors/netflow/offline/bucketize-file.js')).bucketizeFile(inputs[0]!, writer, o);
      progress.update(r.status.offset, r.status.packets, true);
      progress.done();
      return report(inputs[0]!, r.rows, r.status, options.maxEmptyBuckets!) ? 0 : 1;
    } finally {
      writer.close();
    }
  }

  // 0750, and not through a symlink planted in its place (the files in it are created O_EXCL | O_NOFOLLOW, 0640).
  (await import('../../util/safe-dir.js')).makeDirNoFollow(f.outDir, '--out-dir');
  const outputs = inputs.map((i) => path.join(f.outDir!, `${path.basename(i).replace(/\.(pcapng|pcap|cap)$/i, '')}.netflow.jsonl`));
  if (new Set(outputs).size !== outputs.length) throw new UsageError('--out-dir: two captures have the same base name');
  if (f.force) for (const o of outputs) fs.rmSync(o, { force: true });
  const jobs = Math.max(1, Math.min(inputs.length, f.jobs ? Number(f.jobs) : os.availableParallelism()));
  const queue = inputs.map((input, i) => ({ input, output: outputs[i]! }));
  const { bucketizePool } = await import('../../collectors/netflow/offline/bucketize-pool.js');
  const failures = await bucketizePool(queue, jobs, options, {
    progress: (bytes, packets) => progress.update(bytes, packets),
    result: (input, rows, status) => report(input, rows, status, options.maxEmptyBuckets!),
    failure: (input, message) => console.error(`labtel: ${input ?? 'worker'}: ${message}`),
  });
  progress.done();
  return failures ? 1 : 0;
}
