// Every TypeScript type of the C++ addon: what native/binding.cc exports and
// what its objects implement. The pure-TS twins (the proc sampler, the capture
// bucketizer) implement the same interfaces, so they live here, below both.

export interface NativeProcSampler {
  open(): number;
  /** Fills values (PROC_FIELDS, NaN = not collected) and errors (SAMPLE_ERRORS slots: errno per file, then the CPU clock's and taskstats'). */
  sample(values: Float64Array, errors: Int32Array): void;
  threads(): NativeThreadSample[];
  /** 0, or the errno of the last threads() call's listing of task/ (it returned []). Absent from an addon built before it. */
  threadsError?(): number;
  close(): void;
  /** How batch() spells rows (the envelope up to t_mono_ns, the seq key, the rest of it) and schedules them. Absent from an addon built before it. */
  batchFormat?(head: string, seqKey: string, afterSeq: string, originNs: bigint, periodNs: number, maxRows: number): void;
  /** The rows batch() may format: samples with these errors and these NaN fields, whose null_reasons are `reasons` (JSON, '' for none). */
  batchSignature?(values: Float64Array, errors: Int32Array, reasons: string): void;
  /**
   * Sleeps to each deadline, samples and formats rows matching the signature, until maxRows rows, a nonzero stop[0],
   * or a sample it does not cover (left in values/errors). state: [seq, prevT, identity, nextNs] in and out, then
   * [end (0 full, 1 stopped, 2 handoff), rows, measured rows, handoff t] out. Returns the rows' JSONL text.
   */
  batch?(state: Float64Array, stop: Int32Array, values: Float64Array, errors: Int32Array): string;
}

export interface NativeThreadSample {
  tid: number;
  comm: string;
  error: number;
  cpu_user_jiffies: number | null;
  cpu_sys_jiffies: number | null;
  minflt: number | null;
  majflt: number | null;
  starttime: number | null;
  state: number | null;
  processor: number | null;
  /** task/<tid>/schedstat: ns on CPU, ns runnable but waiting on a runqueue, timeslices; raw, null when not read. */
  cpu_time_ns: number | null;
  run_delay_ns: number | null;
  run_periods: number | null;
  /** 0 when schedstat was read and parsed, else the errno (ENOENT: no such file, EBADMSG: not its format). */
  sched_error: number;
}

export interface NativePeerCred {
  pid: number;
  uid: number;
  gid: number;
}

export interface NativeCaptureBucketizerOptions {
  bucketNs: number;
  originWallNs?: bigint;
  fillEmpty: boolean;
  latenessNs: number;
  skipBad: boolean;
  guestIps: Uint8Array[];
  guestMacs: Uint8Array[];
  bridgeIps: Uint8Array[];
  /** Empty buckets between packets written as zero rows, at most, in a row (and a fill budget of that plus 16 per packet); the rest is counted in the next row's empty_buckets_skipped. Default 3600. */
  maxEmptyBuckets?: number;
  /** Replay of a live run: the episode clock passed this (its end), so empty buckets before it were observed and are all written. */
  trustedUntilNs?: number;
}

export interface CaptureStatus {
  ok: boolean;
  error: string | null;
  errorOffset: number | null;
  /** Bytes of input consumed. */
  offset: number;
  packets: number;
  skippedBytes: number;
  skippedRecords: number;
  /** Classic records longer than the file's snaplen, read as libpcap reads them (cut to the snaplen). */
  recordsOverSnaplen: number;
  /** Silences longer than the fill limit left as holes (hostile timestamp jumps). */
  holes: number;
  /** Empty buckets not written, over the series (each gap counted in the next row's empty_buckets_skipped). */
  emptyBucketsSkipped: number;
}

/**
 * A capture stream in, closed bucket rows out. Rows travel packed, ROW_WIDTH
 * doubles each (one typed array per call rather than an object per row: the
 * objects cost more than the bucketing); unpackRows() gives objects.
 */
export interface CaptureBucketizer {
  /** Feeds a chunk of any size; returns the rows it closed. */
  feed(chunk: Uint8Array): Float64Array;
  /** Live use: the episode clock reached nowMonoNs; returns the rows that closed. */
  advance(nowMonoNs: number): Float64Array;
  /** End of input: the remaining rows, and whether the last one was cut short. */
  finish(): { rows: Float64Array; lastPartial: boolean };
  /** Live use (needs originWallNs, before any packet): the capture began at nowMonoNs; its empty buckets from there on give zero rows. */
  begin(nowMonoNs: number): void;
  /** Live use: the capture ended at endMonoNs; ends the input, closes every bucket starting before it, drops (and counts the packets of) later ones; only status() may follow. */
  end(endMonoNs: number): { rows: Float64Array; lastPartial: boolean; packetsAfterEnd: number };
  status(): CaptureStatus;
  /**
   * Native only: a whole file or pipe on two threads (read and parse; bucket, summarizing packets on whichever has room),
   * rows handed back as finished netflow JSONL (the same bytes
   * writeNetflowRows() makes), seq counting from format.seq. `lines` is a view of one buffer
   * the addon reuses for every call, so onLines must be done with it when it returns (write it, not keep it).
   */
  runFd?(
    fd: number,
    format: { bucketMs: number; availableInDeployment: boolean; seq: number },
    /** Runs on this thread while the pipeline's other thread runs: do not call status() from it. */
    onLines: (lines: Uint8Array, rows: number, bytes: number, packets: number) => void,
  ): { readErrno: number; lastPartial: boolean };
}

export interface NativeAddon {
  readClocks(): [bigint, bigint, bigint];
  procFieldNames(): string[];
  /** What a packed netflow row carries after t_mono_ns, in order (native/core/netflow_fields.h). */
  netflowFieldNames(): string[];
  sysconf(): { pageSize: number; clockTicks: number };
  /** SO_PEERCRED of a connected unix socket: the process at its other end (for a client, the one that called listen()), or the errno. Absent from an addon built before it. */
  peerCred?(fd: number): NativePeerCred | { errno: number };
  ProcSampler: new (procRoot: string, pid: number, pageSize: number) => NativeProcSampler;
  CaptureBucketizer: new (o: NativeCaptureBucketizerOptions) => CaptureBucketizer;
}
