// pcap rows: one per interval with what the capture delivered and what it
// lost, and one per capture event (a tcpdump run starting or ending, saving
// stopping). The event rows are also the map `labtel bucketize --episode`
// follows to replay the saved capture exactly as the live netflow saw it.
import { z } from 'zod';
import { counter } from '../../schema/common.js';
import { measurement } from '../../rows/measurement.js';

/** The interface's own counters (iface-counters.ts), each as the kernel keeps it: cumulative since the interface was created. */
function ifCounterFields() {
  const kernel = (what: string) =>
    measurement(
      counter(
        `${what}, from the interface's line of /proc/self/net/dev (the agent's own network namespace, where it runs tcpdump): cumulative since the interface was created (not since the episode began), read when the row is written. The interface's own count, whatever tcpdump saw; null, with the reason, when the capture is on 'any', the interface is gone, or the file could not be read.`,
      ),
    );
  return {
    if_rx_packets: kernel('Packets the interface received'),
    if_tx_packets: kernel('Packets the interface sent'),
    if_rx_bytes: kernel('Bytes the interface received'),
    if_tx_bytes: kernel('Bytes the interface sent'),
    if_rx_dropped: kernel("Packets the interface received that the kernel dropped (no buffer, a full backlog; for a tap, frames from the guest), with the driver's missed packets (/proc/net/dev's drop column adds rx_missed_errors). The kernel's count, not tcpdump's if_drops"),
    if_tx_dropped: kernel("Packets to send that the interface dropped (for a tap, frames to the guest that QEMU did not read in time: its queue was full). The kernel's count, not tcpdump's if_drops"),
    if_rx_errors: kernel('Receive errors of the interface'),
    if_tx_errors: kernel('Transmit errors of the interface'),
  };
}

const run = z.number().int().nonnegative().describe('Which tcpdump run (0, then 1, 2, ... after restarts).');

export const pcapIntervalRow = z.strictObject({
  run,
  interval_s: z.number().nonnegative().describe('Seconds since the previous interval row (since the capture started, on the first).'),
  tcpdump_running: z.boolean().describe('Whether tcpdump was capturing when the row was written.'),
  // The measurements are what the interval delivered; the totals and drop counters are the capture's bookkeeping.
  pkts: measurement(counter('Packets tcpdump delivered in the interval; null when tcpdump did not run at all in it.')),
  bytes: measurement(counter('Their wire bytes (the length on the wire, not the snaplen-cut length).')),
  pkts_total: z.number().int().nonnegative().describe('Packets delivered since the episode began, all runs.'),
  filter_received: counter("Packets the kernel passed to the capture's filter, since the episode began (tcpdump's statistics, summed over runs)."),
  kernel_drops: counter('Packets the kernel dropped because tcpdump could not keep up, since the episode began (summed over runs).'),
  if_drops: counter(
    "Packets the interface or its driver dropped as tcpdump's statistics report them (libpcap's ps_ifdrop), since the episode began (summed over runs; 0 when tcpdump reports none). tcpdump's count, not the kernel's interface counters: those are if_rx_dropped and if_tx_dropped.",
  ),
  drops_lower_bound: z
    .boolean()
    .describe("true once a tcpdump run ended without its final statistics (it was killed): what it counted after its last answer is unknown, so the three counters above are at least these values."),
  saved_bytes: counter('Bytes in the saved capture files; null with keep_pcap false.'),
  if_ifindex: z
    .number()
    .int()
    .positive()
    .nullable()
    .describe(
      "The captured interface's ifindex in the agent's own network namespace when its counters (the if_* fields below) were read (from /proc/self/net/dev_snmp6/<iface>, else /proc/self/net/igmp; null, with the reason, when neither lists it). Not a measurement: it tells interfaces apart. When it changes, the interface was deleted and created again under the same name (or another interface took the name) and its counters started over: never subtract an if_* counter across a change (nor across a null).",
    ),
  if_tx_queue_frames: z
    .number()
    .int()
    .nonnegative()
    .nullable()
    .describe(
      "Frames the captured interface's transmit queues can hold: tx_queue_len times the number of tx queues, from /sys/class/net/<iface>/tx_queue_len and queues/tx-*, as last read: read at the first row, again whenever if_ifindex changes or the last read gave none, and at least every 10 s, so a live change (`ip link set dev X txqueuelen N`, a multiqueue tap's queues attached or detached) shows in the rows within 10 s. Not a measurement: a bound verify uses, because a tap counts tx when QEMU reads a frame from its ring, not when the capture saw it, so a paused guest's backlog (up to this many frames) is counted later. Read only when sysfs is shown to be the agent's own network namespace for the interface (its ifindex there equals if_ifindex); null, with the reason, otherwise (sysfs mounted in another namespace, the ifindex not known, the interface gone). 0 on a bridge (tx_queue_len 0: nothing is queued).",
    ),
  ...ifCounterFields(),
}).describe(
  "One per interval_ms, written when tcpdump answers the SIGUSR1 that asks for its statistics. pkts and bytes count what tcpdump delivered in the interval (by arrival, not by packet timestamp: netflow has the packet-time view). The drop counters are cumulative; they are null, with the reason, when tcpdump did not answer in the interval or was not running. The if_* fields are the interface's own counters, read when the row is written (so at its t_mono_ns), whether or not tcpdump ran.",
);

export const PCAP_EVENTS = ['capture_started', 'capture_ended', 'saving_stopped'] as const;

export const pcapEventRow = z.strictObject({
  event: z
    .enum(PCAP_EVENTS)
    .describe("capture_started: tcpdump is capturing (it said 'listening on'); capture_ended: a run ended (stopped, or tcpdump died); saving_stopped: max_total_mb reached, the files end here."),
  run,
  at_ns: z
    .number()
    .int()
    .describe(
      'The edge of the capture window on the episode clock: capture_started, when tcpdump began listening; capture_ended, the time up to which every captured packet was delivered (for a stop, the moment the stop was asked: tcpdump keeps capturing 1.1 s past it so the kernel hands over everything before it).',
    ),
  stream_offset: z
    .number()
    .int()
    .nonnegative()
    .describe('Byte offset in the capture stream (the saved files read as one pcap, each later file without its 24-byte header) of the first record of the run (capture_started) or just past its last (capture_ended, saving_stopped).'),
  message: z.string().nullable().describe('How the run ended, or why saving stopped; null on capture_started.'),
}).describe('One per capture event. Each tcpdump run has a capture_started and a capture_ended row; netflow buckets exist only inside those windows.');
export type PcapEventRow = z.output<typeof pcapEventRow>;
