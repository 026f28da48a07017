// The qmp collector's loop: connects to QEMU's QMP socket, polls it every
// interval_ms into qmp rows, writes every event as a qmp_event row as it
// comes, and reconnects with capped backoff when the connection goes (QEMU
// restarted, the socket vanished). It ends when the target process is gone
// and the socket no longer answers. Nothing QEMU sends stops it: the client
// counts bad messages by kind (one report per kind), events pass a rate
// limit, a poll's row is bounded (poll.ts, fit-row.ts), and an exception in
// a poll or an event's row is a problem of kind `internal`, after which the
// loop goes on at its interval.
import { setTimeout as sleep } from 'node:timers/promises';
import type { EpisodeClock } from '../../clock/origin.js';
import type { JsonlWriter } from '../../rows/jsonl-writer.js';
import { exitsWithin, isAlive } from '../../util/process-exit.js';
import { QmpClient, type QmpEvent } from '../../qmp/client.js';
import type { LibvirtRef } from '../../libvirt/ref.js';
import { viaLibvirt } from '../../libvirt/virsh-qmp-link.js';
import { MAX_DROPPED_NAMES, QMP_DEFAULTS, eventLimits } from '../../qmp/line-handler.js';
import { QmpProblems, type QmpProblemKind } from '../../qmp/problems.js';
import { newPollState, pollQemu, type PollResult } from './poll.js';
import { noteEvents, type EventsSeen } from './migrate-schedule.js';
import { fitRow } from './fit-row.js';
import { eventRow } from './event-row.js';
import { hasMeasuredValue } from '../../rows/measured-value.js';
import { QMP_POLL_MEASUREMENTS as QMP_MEASUREMENTS } from './measurement-paths.js';


export interface QmpLoopOptions {
  /** QEMU's QMP socket; or none, with `libvirt`. */
  socket?: string;
  /** Through libvirt, when libvirtd holds QEMU's monitor (src/libvirt/virsh-qmp-link.ts). */
  libvirt?: LibvirtRef & { virsh?: string };
  intervalMs: number;
  /** The QEMU process; the collector ends once it is gone (null: never, only on stop). */
  pid: number | null;
  writer: JsonlWriter;
  clock: EpisodeClock;
  signal: AbortSignal;
  reportError?: (message: string) => void;
  /** QMP events taken per second (bursts of one second's worth); default 100. */
  maxEventsPerS?: number;
  /** Bytes of qmp_event rows taken per second (bursts of one second's worth); default 256 KiB. */
  maxEventBytesPerS?: number;
  /** For tests. */
  restartDelayMs?: number;
  /** For tests: the clock of the event rate limit and byte budget, ms. */
  nowMs?: () => number;
  greetingTimeoutMs?: number;
  commandTimeoutMs?: number;
}

export interface QmpLoopResult {
  end: 'stopped' | 'target_exited';
  valueRows: number;
  connections: number;
  events: number;
  eventsDropped: number;
  /** Dropped events by name (bounded: MAX_DROPPED_NAMES names, the rest under "(other)"). */
  eventsDroppedBy: Record<string, number>;
  /** Problems in what QEMU sent, by kind (only the kinds seen). */
  problems: Partial<Record<QmpProblemKind, number>>;
  /** Polls whose row left something out to stay within its bounds. */
  rowsCut: number;
  qemuVersion: string | null;
}

const EXIT_GRACE_MS = 1000;

export async function qmpLoop(o: QmpLoopOptions): Promise<QmpLoopResult> {
  const w = o.writer;
  const r: QmpLoopResult = { end: 'stopped', valueRows: 0, connections: 0, events: 0, eventsDropped: 0, eventsDroppedBy: {}, problems: {}, rowsCut: 0, qemuVersion: null };
  let delay = o.restartDelayMs ?? 500;
  // Problems are counted by kind over every connection; the first of each kind is reported, the rest only counted.
  const problems = new QmpProblems((kind, m) => o.reportError?.(`qmp: ${m} (${kind}: the first; later ones are only counted)`));
  const internal = (where: string, err: unknown) =>
    problems.add('internal', () => `labtel failed ${where}: ${String((err as Error)?.stack ?? err).slice(0, 500)}; the collector carries on`);
  const droppedBy = new Map<string, number>(); // over earlier connections
  // One rate limit and byte budget over every connection: a QEMU that hangs up gets no fresh burst on the next.
  const limits = eventLimits(o.maxEventsPerS, o.maxEventBytesPerS, o.nowMs);
  const dropsOf = (c: QmpClient | undefined): Record<string, number> => {
    const m = new Map(droppedBy);
    for (const [k, n] of c?.lines.droppedByName ?? []) {
      const key = m.has(k) || m.size < MAX_DROPPED_NAMES ? k : '(other)';
      m.set(key, (m.get(key) ?? 0) + n);
    }
    return Object.fromEntries(m);
  };

  /** The current connection's count of MIGRATION events and drops (query-migrate is asked after one: migrate-schedule.ts). */
  let seen: EventsSeen | null = null;
  const writeEvents = (events: QmpEvent[], c?: QmpClient) => {
    if (seen && c) noteEvents(seen, events, c.droppedEvents);
    for (const e of events) {
      let row: [number, object, Record<string, string> | undefined];
      try {
        row = eventRow(e, o.clock);
      } catch (err) {
        internal('on a QMP event', err);
        continue;
      }
      w.write('qmp_event', ...row);
      r.events++;
    }
  };
  let droppedBefore = 0; // events dropped on earlier connections
  let dropsReported = false;
  // One stop promise for the whole loop: a QEMU that stops answering must not hold up the episode's stop.
  const stopped = new Promise<{ stopped: true }>((resolve) => {
    if (o.signal.aborted) resolve({ stopped: true });
    o.signal.addEventListener('abort', () => resolve({ stopped: true }), { once: true });
  });
  while (!o.signal.aborted) {
    let client: QmpClient | undefined;
    try {
      const connecting = QmpClient.connect({
        path: o.socket,
        link: o.libvirt ? viaLibvirt(o.libvirt) : undefined,
        greetingTimeoutMs: o.greetingTimeoutMs,
        commandTimeoutMs: o.commandTimeoutMs,
        eventLimits: limits,
        problems,
        // (events before connect() returns wait for the first poll, which writes them first)
        onEvents: () =>
          setImmediate(() => {
            try {
              if (client) writeEvents(client.takeEvents(), client);
            } catch (err) {
              internal('writing QMP events', err); // thrown here it would be uncaught: the worker would end
            }
          }),
      });
      const first = await Promise.race([connecting, stopped]);
      if ('stopped' in first) {
        connecting.then((c) => c.close(), () => {}); // a late connection is closed as it comes
        break;
      }
      // Through libvirt the connection is to whichever QEMU runs the domain now (pinned to its id from then on): with the
      // QEMU labtel was given gone, it is another one (the domain started again): closed before anything of it is written.
      if (o.libvirt && o.pid !== null && !isAlive(o.pid)) {
        first.close(`the domain's QEMU (pid ${o.pid}) is gone`);
        r.end = 'target_exited';
        break;
      }
      client = first;
    } catch (err) {
      if (o.pid !== null && !isAlive(o.pid)) {
        r.end = 'target_exited';
        break;
      }
      o.reportError?.(`qmp: cannot connect: ${(err as Error).message}; retrying in ${delay} ms`);
      try {
        await sleep(delay, undefined, { signal: o.signal });
      } catch {
        break;
      }
      delay = Math.min(delay * 2, 8000);
      continue;
    }
    r.connections++;
    r.qemuVersion = client.version;
    const connectedAt = performance.now();
    const st = newPollState({ intervalMs: o.intervalMs, throughLibvirt: o.libvirt !== undefined });
    seen = st.seen;
    const closed = client.closed.then((why) => ({ closed: why }));
    let next = performance.now();
    for (;;) {
      const t0 = performance.now();
      st.seen.dropped = client.droppedEvents; // a dropped event may have been a MIGRATION: the poll asks query-migrate
      const poll = pollQemu(client, st, { ms: o.commandTimeoutMs ?? 5000 }, (kind, m) => problems.add(kind, m)).then(
        (p) => ({ p }),
        (err: unknown) => ({ err }),
      );
      const done = await Promise.race([poll, closed, stopped]);
      if ('closed' in done || 'stopped' in done) break;
      writeEvents(client.takeEvents(), client); // events that came before the poll's answers first
      r.eventsDropped = droppedBefore + client.droppedEvents;
      if (r.eventsDropped > 0 && !dropsReported) {
        dropsReported = true;
        const l = client.lines;
        o.reportError?.(
          `qmp: QEMU sent events faster than labtel takes them (max_events_per_s ${o.maxEventsPerS ?? QMP_DEFAULTS.maxEventsPerS}, max_event_bytes_per_s ${o.maxEventBytesPerS ?? QMP_DEFAULTS.maxEventBytesPerS}, a queue of ${QMP_DEFAULTS.maxQueuedEvents}): ${r.eventsDropped} dropped so far (${l.eventsRateLimited} over the rate, ${l.eventsOverBytes} over the byte budget, ${l.eventsQueueFull} with the queue full), counted in events_dropped and events_dropped_by; reported once`,
        );
      }
      let row: [object, Record<string, string> | undefined] | null = null;
      if ('err' in done) internal('in a QMP poll', done.err);
      else {
        try {
          row = pollRow(done.p, performance.now() - t0, client);
        } catch (err) {
          internal("building a poll's row", err);
        }
      }
      if (row) {
        w.write('qmp', o.clock.now(), ...row);
        if (hasMeasuredValue(row[0] as Record<string, unknown>, QMP_MEASUREMENTS)) r.valueRows++; // what verify judges: answers to bookkeeping queries alone measure nothing
      }
      next += o.intervalMs;
      const wait = Math.max(0, next - performance.now());
      if (wait === 0) next = performance.now();
      const woke = await Promise.race([sleep(wait).then(() => 'tick' as const), closed, stopped]);
      if (woke !== 'tick') break;
    }
    const why = o.signal.aborted ? null : await Promise.race([client.closed, Promise.resolve(null)]);
    client.close();
    writeEvents(client.takeEvents());
    droppedBefore += client.droppedEvents;
    r.eventsDropped = droppedBefore;
    const drops = dropsOf(client);
    droppedBy.clear();
    for (const [k, n] of Object.entries(drops)) droppedBy.set(k, n);
    w.flush();
    if (o.signal.aborted) break;
    // QEMU closes its monitors as it exits: give it a moment to be gone before calling this a lost connection.
    if (o.pid !== null && (await exitsWithin(o.pid, EXIT_GRACE_MS, o.signal))) {
      r.end = 'target_exited';
      break;
    }
    if (o.signal.aborted) break;
    // A connection that held a while starts the backoff over; one that keeps dropping backs off to 8 s.
    delay = performance.now() - connectedAt > 10_000 ? (o.restartDelayMs ?? 500) : delay;
    o.reportError?.(`qmp: ${why ?? 'connection lost'}; reconnecting in ${delay} ms`);
    try {
      await sleep(delay, undefined, { signal: o.signal });
    } catch {
      break;
    }
    delay = Math.min(delay * 2, 8000);
  }
  r.eventsDroppedBy = Object.fromEntries(droppedBy);
  r.problems = problems.snapshot();
  // One line for the whole episode with every count, when any kind came more than once.
  const counted = Object.entries(r.problems);
  if (counted.some(([, n]) => n > 1)) o.reportError?.(`qmp: problems in what QEMU sent over the episode (each reported once): ${counted.map(([k, n]) => `${k} ${n}`).join(', ')}`);
  return r;

  /** The poll's row: its fields within the bounds, labtel's own bookkeeping, and what was cut. */
  function pollRow(p: PollResult, pollMs: number, c: QmpClient): [object, Record<string, string> | undefined] {
    const cut = { ...p.cut };
    fitRow(p.fields, p.reasons, cut);
    const dropped = r.eventsDropped ? dropsOf(c) : null;
    const any = Object.keys(cut).length > 0;
    if (any) r.rowsCut++;
    return [
      { ...p.fields, poll_ms: pollMs, events_dropped: r.eventsDropped, events_dropped_by: dropped, problems: problems.snapshot(), cut: any ? cut : null },
      Object.keys(p.reasons).length ? p.reasons : undefined,
    ];
  }
}
