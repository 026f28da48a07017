// Hands the captured records to the live netflow collector(s) over their
// MessagePorts (packet-stream.ts), with heartbeats while tcpdump captures,
// and holds the capture back while the slowest consumer has
// MAX_UNACKED_BYTES unacknowledged: `flow.pause()` then, `flow.resume()`
// once it is under half of that again.
import type { MessagePort } from 'node:worker_threads';
import { MAX_UNACKED_BYTES, type PacketStreamAck, type PacketStreamMessage } from './packet-stream.js';

// How often the consumers hear the episode clock while no packet comes: it closes their buckets, which
// stay open lateness_ms (at least DRAIN_MS + 100 = 1.2 s) past their end anyway, so a row is written at
// most this much later than it could be; its bytes do not depend on it (labtel bucketize --episode
// replays the capture into the same rows without any). 50 ms woke the pcap and netflow threads 40
// times a second between them.
const HEARTBEAT_MS = 200;

export class PacketFanout {
  private paused = false;
  private readonly down: MessagePort[];
  private readonly unacked: Map<MessagePort, number>;
  private heartbeat: NodeJS.Timeout | undefined;

  constructor(
    ports: readonly MessagePort[],
    private readonly flow: { pause(): void; resume(): void },
  ) {
    const down = [...ports];
    this.down = down;
    this.unacked = new Map(down.map((p) => [p, 0]));
    for (const p of down) {
      p.on('message', (m: PacketStreamAck) => {
        this.unacked.set(p, (this.unacked.get(p) ?? 0) - m.bytes);
        this.maybeResume();
      });
      // A consumer that is gone (netflow failed) must not hold the capture back.
      p.once('close', () => {
        down.splice(down.indexOf(p), 1);
        this.unacked.delete(p);
        this.maybeResume();
      });
    }
  }

  post(m: PacketStreamMessage, transfer?: ArrayBuffer[]): void {
    for (const p of this.down) p.postMessage(m, transfer && this.down.length === 1 ? transfer : undefined);
  }

  /** Whole records; the first message of a run carries its header (`header` non-null). */
  records(records: Buffer, header: Buffer | null): void {
    if (!this.down.length) return;
    // The bytes are copied out of the stream's buffer.
    const out = new Uint8Array((header ? header.length : 0) + records.length);
    if (header) out.set(header, 0);
    out.set(records, header ? header.length : 0);
    for (const p of this.down) this.unacked.set(p, (this.unacked.get(p) ?? 0) + out.length);
    this.post({ type: 'data', bytes: out }, [out.buffer]);
    if (!this.paused && Math.max(0, ...this.unacked.values()) > MAX_UNACKED_BYTES) {
      this.paused = true;
      this.flow.pause();
    }
  }

  /** 'now' every HEARTBEAT_MS (not while the capture is held back) until stopBeating(). */
  beat(now: () => number): void {
    this.heartbeat = setInterval(() => {
      if (!this.paused) this.post({ type: 'now', atNs: now() });
    }, HEARTBEAT_MS);
  }

  stopBeating(): void {
    clearInterval(this.heartbeat);
  }

  /** The run ended: a new one starts unpaused. */
  runEnded(): void {
    this.paused = false;
  }

  private maybeResume(): void {
    if (this.paused && Math.max(0, ...this.unacked.values()) < MAX_UNACKED_BYTES / 2) {
      this.paused = false;
      this.flow.resume();
    }
  }
}
