// What the pcap collector hands the live netflow collector over a
// MessagePort: each tcpdump run as a series of whole pcap records, framed by
// its start and end on the episode clock, with heartbeats while it captures.
// Flow control: netflow acknowledges the bytes it consumed, and pcap stops
// reading tcpdump while too many are unacknowledged (tcpdump then blocks and
// the kernel counts drops, which the pcap rows show).

export type PacketStreamMessage =
  /** A run began at atNs. */
  | { type: 'run'; run: number; atNs: number }
  /** Whole records of the current run; its first data message starts with the run's pcap header. */
  | { type: 'data'; bytes: Uint8Array }
  /** tcpdump was capturing at atNs, and everything it had delivered by then came before this message. */
  | { type: 'now'; atNs: number }
  /** The run ended: every packet it captured before atNs has been delivered. */
  | { type: 'end'; run: number; atNs: number; reason: string }
  /** No more runs. */
  | { type: 'close' };

export type PacketStreamAck = { type: 'ack'; bytes: number };

/**
 * How long a stopping capture keeps running so the kernel hands over every
 * packet from before the stop (tcpdump's ring delivers blocks up to 1 s late).
 */
export const DRAIN_MS = 1100;

/** Unacknowledged bytes at which pcap stops reading tcpdump until netflow catches up. */
export const MAX_UNACKED_BYTES = 64 << 20;
