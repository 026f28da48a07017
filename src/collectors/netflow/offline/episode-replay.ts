// `labtel bucketize --episode DIR` on an episode whose pcap collector ran
// live: replays the saved capture run by run, with the begin and end times,
// stream offsets and netflow settings the live collector used (the pcap
// capture rows and episode.json), through the same LiveSeries. The rows are
// the live netflow rows, byte for byte, whenever no packet came later than
// lateness_ms live (pkts_late 0).
import fs from 'node:fs';
import path from 'node:path';
import { LiveSeries } from '../live-series.js';
import type { BucketizeOptions, BucketizerKind } from '../bucketizer.js';
import { listCaptureFiles } from '../../pcap/capture-files.js';
import { DRAIN_MS } from '../../pcap/packet-stream.js';
import { PCAP_HEADER_BYTES } from '../../pcap/record-walker.js';
import type { PcapEventRow } from '../../pcap/rows.js';
import type { JsonlWriter } from '../../../rows/jsonl-writer.js';

const CHUNK = 4 << 20;

export interface CaptureRun {
  run: number;
  startNs: number;
  startOffset: number;
  /** null when the episode has no capture_ended row for it (the agent died). */
  endNs: number | null;
  endOffset: number | null;
}

export interface EpisodeCapture {
  runs: CaptureRun[];
  /** Stream offset where the saved files stop early (saving_stopped), and why. */
  savingStopped: { offset: number; atNs: number; why: string } | null;
  /** The latest time in the pcap rows: where a run with no end is ended. */
  lastNs: number;
  files: string[];
}

/** The live capture's runs, from telemetry-pcap.jsonl; null when the episode has none. */
export function readEpisodeCapture(dir: string): EpisodeCapture | null {
  const file = path.join(dir, 'telemetry-pcap.jsonl');
  if (!fs.existsSync(file)) return null;
  const runs = new Map<number, CaptureRun>();
  let savingStopped: EpisodeCapture['savingStopped'] = null;
  let lastNs = 0;
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  lines.forEach((line, i) => {
    if (!line) return;
    let row: Partial<PcapEventRow> & { t_mono_ns?: number };
    try {
      row = JSON.parse(line) as typeof row;
    } catch {
      throw new Error(`${file}:${i + 1}: not JSON`);
    }
    if (typeof row.t_mono_ns === 'number') lastNs = Math.max(lastNs, row.t_mono_ns);
    if (!row.event) return;
    const { run, at_ns: at, stream_offset: offset } = row;
    if (typeof run !== 'number' || typeof at !== 'number' || typeof offset !== 'number') throw new Error(`${file}:${i + 1}: a ${row.event} row without run, at_ns and stream_offset`);
    if (row.event === 'capture_started') runs.set(run, { run, startNs: at, startOffset: offset, endNs: null, endOffset: null });
    else if (row.event === 'capture_ended') Object.assign(runs.get(run) ?? {}, { endNs: at, endOffset: offset });
    else if (row.event === 'saving_stopped' && !savingStopped) savingStopped = { offset, atNs: at, why: row.message ?? '' };
  });
  if (runs.size === 0) return null;
  return { runs: [...runs.values()].sort((a, b) => a.run - b.run), savingStopped, lastNs, files: listCaptureFiles(dir) };
}

/** The saved files read as one stream: the first whole, each later one without its header. */
class CaptureStream {
  private fds: Array<{ fd: number; from: number; size: number }> = [];
  readonly size: number;
  header: Buffer | null = null;

  constructor(files: string[]) {
    let at = 0;
    for (const [i, f] of files.entries()) {
      const fd = fs.openSync(f, 'r');
      const skip = i === 0 ? 0 : PCAP_HEADER_BYTES;
      const size = Math.max(0, fs.fstatSync(fd).size - skip);
      this.fds.push({ fd, from: at - skip, size: size + skip });
      at += size;
    }
    this.size = at;
    if (this.size >= PCAP_HEADER_BYTES) this.header = this.read(0, PCAP_HEADER_BYTES);
  }

  /** Bytes [from, to) of the stream. */
  read(from: number, to: number): Buffer {
    const out = Buffer.allocUnsafe(Math.max(0, to - from));
    let got = 0;
    for (const f of this.fds) {
      const lo = Math.max(from + got, f.from + (f === this.fds[0] ? 0 : PCAP_HEADER_BYTES));
      const hi = Math.min(to, f.from + f.size);
      if (lo >= hi) continue;
      got += fs.readSync(f.fd, out, got, hi - lo, lo - f.from);
    }
    return out.subarray(0, got);
  }

  close(): void {
    for (const f of this.fds) fs.closeSync(f.fd);
  }
}

export interface ReplayResult {
  rows: number;
  runs: number;
  packets: number;
  /**
   * Records longer than the saved file's snaplen, over all runs: read as
   * libpcap reads them (cut to the snaplen), so their rows are not the live
   * ones (tcpdump never writes such a record, and the live collector's walker
   * refuses one: the saved files were changed after the episode).
   */
  recordsOverSnaplen: number;
  /** Why the rows stop short of the live ones, if they do. */
  incomplete: string | null;
  /** A bad record in the saved capture. */
  error: string | null;
}

export function replayEpisode(
  dir: string,
  capture: EpisodeCapture,
  writer: JsonlWriter,
  o: BucketizeOptions & { originWallNs: bigint },
  kind?: BucketizerKind,
): ReplayResult {
  const rowsBefore = writer.rows;
  const stream = new CaptureStream(capture.files);
  const r: ReplayResult = { rows: 0, runs: 0, packets: 0, recordsOverSnaplen: 0, incomplete: null, error: null };
  try {
    if (!stream.header) throw new Error(`${dir} has no saved capture (network.pcap): was keep_pcap false?`);
    const available = Math.min(stream.size, capture.savingStopped?.offset ?? Infinity);
    for (const run of capture.runs) {
      if (run.startOffset > available) {
        r.incomplete = `the saved capture stops at byte ${available}${capture.savingStopped ? ` (${capture.savingStopped.why})` : ''}: runs from ${run.run} on are not replayed`;
        break;
      }
      let endNs = run.endNs ?? capture.lastNs;
      let endOffset = run.endOffset ?? available;
      if (endOffset > available) {
        // The files hold every packet stamped up to one ring delivery (DRAIN_MS) before saving stopped; later buckets would claim zeros.
        endOffset = available;
        endNs = Math.min(endNs, (capture.savingStopped?.atNs ?? endNs) - DRAIN_MS * 1e6);
        r.incomplete = `the saved capture stops at byte ${available}${capture.savingStopped ? ` (${capture.savingStopped.why})` : ''}, inside run ${run.run}: its rows end at ${(endNs / 1e9).toFixed(3)} s, ${DRAIN_MS} ms before saving stopped`;
        if (endNs <= run.startNs) break;
      }
      // Live, the episode clock passed every bucket of the run (advance()): their empty ones were written whatever their number, so here too.
      const series = new LiveSeries(writer, { ...o, trustedUntilNs: endNs }, run.startNs, kind);
      series.feed(stream.header);
      for (let at = run.startOffset; at < endOffset; at += CHUNK) series.feed(stream.read(at, Math.min(endOffset, at + CHUNK)));
      const end = series.end(endNs);
      r.runs++;
      r.packets += end.status.packets;
      r.recordsOverSnaplen += end.status.recordsOverSnaplen;
      if (!end.status.ok) {
        r.error = `run ${run.run}: at byte ${run.startOffset + (end.status.errorOffset ?? 0) - PCAP_HEADER_BYTES}: ${end.status.error}`;
        break;
      }
      if (r.incomplete) break;
    }
  } finally {
    stream.close();
    writer.flush();
  }
  r.rows = writer.rows - rowsBefore;
  return r;
}
