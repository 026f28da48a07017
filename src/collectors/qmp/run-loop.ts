// The qmp collector's loop: connects to QEMU's QMP socket, polls it every
// interval_ms into qmp rows, writes every event as a qmp_event row as it
// comes, and reconnects with capped backoff when the connection goes (QEMU
// restarted, the socket vanished). It ends when the target process is gone
// and the socket no longer answers.
import { setTimeout as sleep } from 'node:timers/promises';
import type { EpisodeClock } from '../../clock/origin.js';
import type { JsonlWriter } from '../../rows/jsonl-writer.js';
import { exitsWithin, isAlive } from '../../util/process-exit.js';
import { QmpClient, type QmpEvent } from '../../qmp/client.js';
import { newPollState, pollQemu } from './poll.js';
import { MEASUREMENT_PATHS, hasMeasuredValue } from '../../rows/measurements.js';

const QMP_MEASUREMENTS = MEASUREMENT_PATHS.qmp![0]!.paths;

const MAX_EVENT_NAME = 256;
const MAX_EVENT_DATA = 64 << 10;
/** How far QEMU's event time may be from its receipt and still be used (the host's clock, stepped by NTP at worst). */
const MAX_EVENT_SKEW_NS = 600e9;

export interface QmpLoopOptions {
  socket: string;
  intervalMs: number;
  /** The QEMU process; the collector ends once it is gone (null: never, only on stop). */
  pid: number | null;
  writer: JsonlWriter;
  clock: EpisodeClock;
  signal: AbortSignal;
  reportError?: (message: string) => void;
  /** For tests. */
  restartDelayMs?: number;
  greetingTimeoutMs?: number;
  commandTimeoutMs?: number;
}

export interface QmpLoopResult {
  end: 'stopped' | 'target_exited';
  valueRows: number;
  connections: number;
  events: number;
  eventsDropped: number;
  qemuVersion: string | null;
}

const EXIT_GRACE_MS = 1000;

export async function qmpLoop(o: QmpLoopOptions): Promise<QmpLoopResult> {
  const w = o.writer;
  const r: QmpLoopResult = { end: 'stopped', valueRows: 0, connections: 0, events: 0, eventsDropped: 0, qemuVersion: null };
  let delay = o.restartDelayMs ?? 500;
  // Problems are reported once per kind of message, then counted, so a
  // flood of garbage cannot flood the summary.
  const seen = new Map<string, number>();
  const problem = (m: string) => {
    const key = m.replace(/"[^"]*"|\d+/g, '_');
    const n = (seen.get(key) ?? 0) + 1;
    seen.set(key, n);
    if (n === 1 || n === 100 || n === 10_000) o.reportError?.(`qmp: ${m}${n > 1 ? ` (${n} times so far)` : ''}`);
  };

  const writeEvents = (events: QmpEvent[]) => {
    for (const e of events) {
      const received = o.clock.fromMono(e.receivedMonoNs);
      const reasons: Record<string, string> = {};
      // QEMU's clock is the host's, so its time is within moments of receipt; one that is not is not used.
      let wall = e.wallNs;
      const mapped = wall === null ? null : o.clock.fromWall(wall);
      if (mapped !== null && !(Number.isSafeInteger(mapped) && Math.abs(mapped - received) <= MAX_EVENT_SKEW_NS)) {
        reasons.qemu_wall_ns = `QEMU's timestamp ${wall} is ${((mapped - received) / 1e9).toPrecision(3)} s from when the event was received; t_mono_ns is the time it was received`;
        wall = null;
      }
      const t = wall !== null ? mapped! : received;
      let data = e.data;
      const size = JSON.stringify(data)?.length ?? 0;
      if (size > MAX_EVENT_DATA) {
        data = null;
        reasons.data = `${size} bytes of event data, more than the ${MAX_EVENT_DATA} kept`;
      }
      if (e.wallNs === null) reasons.qemu_wall_ns = 'QEMU sent no timestamp that parses; t_mono_ns is the time it was received';
      w.write(
        'qmp_event',
        t,
        { event: e.event.slice(0, MAX_EVENT_NAME), data, qemu_wall_ns: wall?.toString() ?? null, time_source: wall !== null ? 'qemu' : 'received' },
        Object.keys(reasons).length ? reasons : undefined,
      );
      r.events++;
    }
  };

  let droppedBefore = 0; // events dropped on earlier connections
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
        greetingTimeoutMs: o.greetingTimeoutMs,
        commandTimeoutMs: o.commandTimeoutMs,
        onProblem: problem,
        // (events before connect() returns wait for the first poll, which writes them first)
        onEvents: () => setImmediate(() => client && writeEvents(client.takeEvents())),
      });
      const first = await Promise.race([connecting, stopped]);
      if ('stopped' in first) {
        connecting.then((c) => c.close(), () => {}); // a late connection is closed as it comes
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
    const st = newPollState();
    const closed = client.closed.then((why) => ({ closed: why }));
    let next = performance.now();
    for (;;) {
      const t0 = performance.now();
      const poll = pollQemu(client, st);
      const done = await Promise.race([poll.then((p) => ({ p })), closed, stopped]);
      if ('closed' in done || 'stopped' in done) break;
      const { p } = done;
      writeEvents(client.takeEvents()); // events that came before the poll's answers first
      r.eventsDropped = droppedBefore + client.droppedEvents;
      w.write(
        'qmp',
        o.clock.now(),
        { ...p.fields, poll_ms: performance.now() - t0, events_dropped: r.eventsDropped },
        Object.keys(p.reasons).length ? p.reasons : undefined,
      );
      if (hasMeasuredValue(p.fields, QMP_MEASUREMENTS)) r.valueRows++; // what verify judges: answers to bookkeeping queries alone measure nothing
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
  return r;
}
