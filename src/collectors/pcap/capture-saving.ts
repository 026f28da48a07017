// What the pcap collector keeps of the capture: tcpdump's stream saved into
// rotating files (capture-files.ts) when keep_pcap is set, each run's header
// held to the first run's (the files end before a header that changed), and
// the stream offset the capture event rows name. Saving stops once, with a
// saving_stopped row and an error; the capture goes on.
import type { CollectorConfigs } from '../../manifest/schema.js';
import { CaptureFiles } from './capture-files.js';
import { PCAP_HEADER_BYTES } from './record-walker.js';
import type { PcapEventRow } from './rows.js';

const MIB = 1 << 20;

export interface CaptureSavingOptions {
  config: Pick<CollectorConfigs['pcap'], 'keep_pcap' | 'rotate_mb' | 'max_total_mb'>;
  episodeDir: string;
  now: () => number;
  /** The current run, for the saving_stopped row. */
  run: () => number;
  event: (e: PcapEventRow) => void;
  reportError?: (message: string) => void;
}

export class CaptureSaving {
  /** Why saving stopped, once it has. */
  stopped: string | null = null;
  /** Bytes of the stream so far: the first header counts once; every record after it. */
  streamOffset = PCAP_HEADER_BYTES;
  private files = null as CaptureFiles | null;
  private firstHeader: Buffer | null = null;

  constructor(private readonly o: CaptureSavingOptions) {}

  /** Bytes saved (headers included); null when keep_pcap is false. */
  get savedBytes(): number | null {
    return this.o.config.keep_pcap ? (this.files?.savedBytes ?? 0) : null;
  }

  /** Whole records of the current run; `first` for its first records, which come with its header. */
  records(records: Buffer, header: Buffer, first: boolean): void {
    const c = this.o.config;
    if (first) {
      if (!this.firstHeader) {
        this.firstHeader = Buffer.from(header);
        if (c.keep_pcap) this.files = new CaptureFiles(this.o.episodeDir, this.firstHeader, c.rotate_mb * MIB, c.max_total_mb * MIB);
      } else if (!header.equals(this.firstHeader)) {
        this.stop(`tcpdump's stream header changed in run ${this.o.run()} (${header.toString('hex')} after ${this.firstHeader.toString('hex')}); the files end before it`);
      }
    }
    if (this.files && !this.stopped && !this.files.write(records)) this.stop(this.files.stopped!);
    this.streamOffset += records.length;
  }

  /** Closes the last file (its fsync: call it last, so that nothing else waits for the disk). */
  close(): void {
    this.files?.close();
  }

  private stop(why: string): void {
    if (this.stopped) return;
    this.stopped = why;
    this.o.event({ event: 'saving_stopped', run: this.o.run(), at_ns: this.o.now(), stream_offset: this.streamOffset, message: why });
    this.o.reportError?.(`pcap: saving stopped: ${why}`);
  }
}
