// guest rows: what the guest sent (a line of its own agent, or a stock
// qemu-guest-agent's answer), always nested under `guest`/`result` so it can
// never set envelope fields, and the channel's own counters every interval.
import { z } from 'zod';
import { measurement } from '../../rows/measurement.js';

const count = (d: string) => z.number().int().nonnegative().describe(d);

export const guestLineRow = z
  .strictObject({
    kind: z.literal('line').describe('A JSON object line from the in-guest agent (protocol jsonl).'),
    // What the guest measured: the whole object (one with at least one key) is the measurement.
    guest: measurement(z.record(z.string(), z.unknown())).describe("The guest's object as it sent it. Untrusted: the guest can write anything here, and nothing else."),
    guest_t: z
      .union([z.number(), z.string()])
      .nullable()
      .describe("The guest's own timestamp, from its first key of t, ts, time, timestamp, uptime; null when it sent none. t_mono_ns is when the host received the line."),
  })
  .describe('One per line the guest sent and labtel accepted.');

export const guestQgaRow = z
  .strictObject({
    kind: z.literal('qga').describe("A qemu-guest-agent command's answer (protocol qga)."),
    command: z.string().describe('guest-get-cpustats, guest-get-diskstats or guest-get-memory-blocks (guest-get-osinfo: the qga osinfo shape).'),
    result: measurement(z.unknown()).describe("The agent's answer as it sent it; null when the command failed (null_reasons has the agent's error)."),
  })
  .describe('One per command per poll (guest-get-osinfo\'s answer has its own shape, qga osinfo).');

// guest-get-osinfo, asked once, says which OS the guest runs (name, kernel, machine): identity,
// like a process's pid and starttime, not a measurement. Its own shape, so that a qga that
// answers nothing else has measured nothing; the rows are those of guestQgaRow.
export const guestQgaOsinfoRow = guestQgaRow
  .extend({
    command: z.literal('guest-get-osinfo').describe('guest-get-osinfo, asked until the agent first answers it.'),
    result: z.unknown().describe("The agent's answer as it sent it: the guest OS's identity (not a measurement); null when the command failed (null_reasons has the agent's error)."),
  })
  .describe('The guest OS, once.');

export const guestChannelRow = z
  .strictObject({
    kind: z.literal('channel').describe('The channel itself, every interval_ms.'),
    connected: z.boolean().describe('Whether the guest channel was connected when the row was written.'),
    connections: count('Connections made since the collector started.'),
    connections_refused: count('Connections refused: a second one while one was open, or more than 5 in 10 s (a reconnect storm).'),
    lines: count('Lines accepted, cumulative.'),
    bytes: count('Bytes received, cumulative.'),
    dropped_oversize: count('Lines dropped for being longer than max_line_bytes.'),
    dropped_rate: count('Lines dropped past max_lines_per_s.'),
    dropped_invalid_utf8: count('Lines dropped for invalid UTF-8.'),
    dropped_invalid_json: count('Lines dropped for invalid JSON.'),
    dropped_too_deep: count('Lines dropped for nesting deeper than 64 levels.'),
    dropped_not_object: count('Lines dropped for being JSON but not an object.'),
    // Optional only so that rows written before the byte budget existed still validate; labtel writes them always.
    dropped_byte_rate: count('Lines (or qga answers) dropped because their row did not fit in max_bytes_per_s; checked before a line is parsed, so such a line is counted here whatever it holds. Absent in episodes recorded before the byte budget.').optional(),
    dropped_total_cap: count("Lines (or qga answers) dropped because their row would have taken the guest's rows past max_total_mb. Absent in episodes recorded before the byte budget.").optional(),
    bytes_written: count("Bytes of the line and qga rows written (envelopes included), cumulative: what the byte budget is charged with; channel rows and null qga rows are not counted. Absent in episodes recorded before the byte budget.").optional(),
    dropped_unasked: count("qga lines nobody asked for, dropped: a late answer to a question that timed out, or an agent talking out of turn (at most 1 MiB of them is held, during a sync); always 0 with protocol jsonl. Absent in episodes recorded before it was counted.").optional(),
  })
  .describe('The channel\'s counters, cumulative since the collector started: every drop is counted here and in summary.json, never silent.');
