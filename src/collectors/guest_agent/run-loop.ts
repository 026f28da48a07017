// The guest_agent collector's loop. The host end of a virtio-serial channel
// is a unix socket: labtel connects to it (QEMU is the server) or listens on
// it (QEMU connects). Whatever arrives is untrusted input to a root process:
// lines are bounded, rate-limited, checked and counted (guest-line.ts,
// src/util/bounded-line-reader.ts); what they make labtel write is bounded
// in bytes per second and in total (byte-budget.ts), the guest's text
// written as it came (row-text.ts); every read lands in one reused buffer;
// with protocol qga a stock qemu-guest-agent is polled (qga-session.ts).
// The channel's counters are a row every interval_ms.
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { EpisodeClock } from '../../clock/origin.js';
import type { CollectorConfigs } from '../../manifest/schema.js';
import type { JsonlWriter } from '../../rows/jsonl-writer.js';
import { isMeasuredValue } from '../../rows/measurement.js';
import { exitsWithin } from '../../util/process-exit.js';
import { judgeLine } from './guest-line.js';
import { BoundedLineReader } from '../../util/bounded-line-reader.js';
import { QapiError } from '../../util/qapi-error.js';
import { listenUnix, withReadBuffer } from '../../util/unix-listen.js';
import { ByteBudget, type BudgetVerdict } from './byte-budget.js';
import { QGA_MAX_ANSWER_BYTES, QgaSession } from './qga-session.js';
import { lineMembers, qgaMembers, ROW_OVERHEAD_MAX, rowBytes } from './row-text.js';

const POLLED = ['guest-get-cpustats', 'guest-get-diskstats', 'guest-get-memory-blocks'] as const;
/** Connections accepted per window before a reconnect storm is refused. */
const STORM_MAX = 5;
const STORM_WINDOW_MS = 10_000;
/** Every read of the channel lands in one buffer of this size (no fresh buffer per read). */
const READ_BUFFER_BYTES = 64 * 1024;

export interface GuestLoopOptions {
  config: CollectorConfigs['guest_agent'];
  writer: JsonlWriter;
  clock: EpisodeClock;
  signal: AbortSignal;
  reportError?: (message: string) => void;
  /** The guest's QEMU: when it is gone as the channel closes, the collector ends (null: only on stop). */
  pid?: number | null;
  /** For tests. */
  restartDelayMs?: number;
}

export interface GuestCounters {
  connections: number;
  connections_refused: number;
  lines: number;
  bytes: number;
  dropped_oversize: number;
  dropped_rate: number;
  dropped_invalid_utf8: number;
  dropped_invalid_json: number;
  dropped_too_deep: number;
  dropped_not_object: number;
  dropped_byte_rate: number;
  dropped_total_cap: number;
  bytes_written: number;
}

export interface GuestLoopResult {
  end: 'stopped' | 'target_exited';
  /** Rows with something from the guest (lines, or qga answers). */
  valueRows: number;
  counters: GuestCounters;
  disabled: Record<string, string>;
}

export async function guestLoop(o: GuestLoopOptions): Promise<GuestLoopResult> {
  const c = o.config;
  const w = o.writer;
  const n: GuestCounters = {
    connections: 0, connections_refused: 0, lines: 0, bytes: 0, dropped_oversize: 0, dropped_rate: 0,
    dropped_invalid_utf8: 0, dropped_invalid_json: 0, dropped_too_deep: 0, dropped_not_object: 0,
    dropped_byte_rate: 0, dropped_total_cap: 0, bytes_written: 0,
  };
  const r: GuestLoopResult = { end: 'stopped', valueRows: 0, counters: n, disabled: {} };
  let current: net.Socket | null = null;

  // Token bucket: max_lines_per_s, bursts of one second's worth.
  let tokens = c.max_lines_per_s;
  let refilled = performance.now();
  const admit = () => {
    const now = performance.now();
    tokens = Math.min(c.max_lines_per_s, tokens + ((now - refilled) / 1000) * c.max_lines_per_s);
    refilled = now;
    if (tokens < 1) return false;
    tokens--;
    return true;
  };

  // qga answers are read up to 4 MiB whatever max_line_bytes is: the session holds a bounded number of bytes.
  const lineCap = c.protocol === 'qga' ? Math.min(c.max_line_bytes, QGA_MAX_ANSWER_BYTES) : c.max_line_bytes;
  const budget = new ByteBudget(c.max_bytes_per_s, c.max_total_mb * (1 << 20), lineCap + ROW_OVERHEAD_MAX);
  /** Reported once per power of ten of its count: a flood makes a handful of messages, not one per line. */
  const reportDrop = (kind: 'byte_rate' | 'total_cap', what: string) => {
    const k = ++n[`dropped_${kind}`];
    if (k === 1 || (kind === 'byte_rate' && Number.isInteger(Math.log10(k)))) {
      o.reportError?.(
        kind === 'total_cap'
          ? `guest_agent: the guest's rows reached max_total_mb (${c.max_total_mb} MiB): ${what} dropped from now on (${k} so far, counted in dropped_total_cap)`
          : `guest_agent: the guest sent more than max_bytes_per_s (${c.max_bytes_per_s} bytes/s): ${what} dropped (${k} so far, counted in dropped_byte_rate)`,
      );
    }
  };
  /** Writes one guest row if the budget has room for it all; if not, counts the drop and says why. */
  const writeCharged = (t: number, members: string, what: string): BudgetVerdict => {
    const bytes = rowBytes(w, t, members);
    const verdict = budget.check(bytes, t);
    if (verdict !== 'ok') {
      reportDrop(verdict, what);
      return verdict;
    }
    w.writeMembers('guest', t, members);
    budget.charge(bytes, t);
    n.bytes_written = budget.written;
    return verdict;
  };

  const channelRow = () =>
    w.write('guest', o.clock.now(), { kind: 'channel', connected: current !== null, ...n, dropped_oversize: n.dropped_oversize + (reader?.oversize ?? 0) });
  let reader: BoundedLineReader | null = null;

  const onLineJsonl = (line: Buffer) => {
    if (line.length === 0 || (line.length === 1 && line[0] === 13)) return; // a blank line carries nothing
    if (!admit()) return void n.dropped_rate++;
    const t = o.clock.now();
    // Before parsing: its row is at least the line (a final CR is cut), so one past the budget is not judged.
    const early = budget.check(line.length - 1, t);
    if (early !== 'ok') return void reportDrop(early, 'lines');
    const v = judgeLine(line);
    if (!v.ok) return void n[`dropped_${v.why}`]++;
    if (writeCharged(t, lineMembers(v.text, v.guestT), 'lines') !== 'ok') return;
    n.lines++;
    if (isMeasuredValue(v.value)) r.valueRows++; // as verify judges it: an empty object, or one of nulls only, measures nothing
    w.flushIfDue();
  };

  // One connection is served at a time: its reads, into readBuffer, go to `feed`.
  const readBuffer = Buffer.allocUnsafe(READ_BUFFER_BYTES);
  let feed: ((d: Buffer) => void) | null = null;
  const onRead = (d: Buffer) => feed?.(d);

  /** Serves one connection until it closes; with qga, polls it meanwhile. */
  const serve = async (sock: net.Socket) => {
    current = sock;
    n.connections++;
    const qga = c.protocol === 'qga' ? new QgaSession((b) => sock.write(b)) : null;
    reader = new BoundedLineReader(lineCap, qga ? (l) => qga.onLine(l) : onLineJsonl);
    const rd = reader;
    feed = (d: Buffer) => {
      n.bytes += d.length;
      rd.push(d);
    };
    const closed = new Promise<void>((resolve) => {
      sock.once('close', () => resolve());
      sock.on('error', () => {});
    });
    if (qga) void pollQga(qga, closed);
    await closed;
    feed = null;
    qga?.close();
    rd.end();
    n.dropped_oversize += rd.oversize;
    reader = null;
    current = null;
  };

  let osinfoDone = false;
  const pollQga = async (qga: QgaSession, closed: Promise<void>) => {
    let open = true;
    void closed.then(() => (open = false));
    while (open && !o.signal.aborted) {
      const commands = [...(osinfoDone ? [] : ['guest-get-osinfo']), ...POLLED].filter((x) => !(x in r.disabled));
      for (const command of commands) {
        if (!open) break;
        try {
          const answer = await qga.execute(command);
          const t = o.clock.now();
          const verdict = writeCharged(t, qgaMembers(command, answer.raw), 'qga answers');
          if (verdict !== 'ok') {
            // The poll's slot still gets its row: null, saying why (labtel's own few bytes, like a channel row).
            const why = verdict === 'total_cap' ? `the guest's rows reached max_total_mb (${c.max_total_mb} MiB)` : `past max_bytes_per_s (${c.max_bytes_per_s} bytes/s)`;
            w.write('guest', t, { kind: 'qga', command, result: null }, { result: `${command}: the answer (${answer.raw.length} bytes) was dropped: ${why}` });
            continue;
          }
          // As verify judges it: [], {} or nulls only answer nothing, and the OS's name is identity, not a measurement.
          if (command !== 'guest-get-osinfo' && isMeasuredValue(answer.value)) r.valueRows++;
          if (command === 'guest-get-osinfo') osinfoDone = true;
        } catch (err) {
          const why = (err as Error).message;
          if (err instanceof QapiError && err.errorClass === 'CommandNotFound') {
            // Asked once: the agent lacks it (or has it disabled); recorded, not asked again.
            r.disabled[command] = why;
            o.reportError?.(`guest_agent: ${why}; not asked again`);
          }
          if (!open) break;
          w.write('guest', o.clock.now(), { kind: 'qga', command, result: null }, { result: why });
        }
      }
      await Promise.race([sleep(c.interval_ms), closed]);
    }
  };

  const ticker = setInterval(channelRow, c.interval_ms);
  const stopped = new Promise<void>((resolve) => {
    if (o.signal.aborted) resolve();
    o.signal.addEventListener('abort', () => resolve(), { once: true });
  });
  try {
    if (c.mode === 'connect') await connectLoop();
    else await listenLoop();
  } finally {
    clearInterval(ticker);
    channelRow();
    w.flush();
  }
  return r;

  async function connectLoop() {
    let delay = o.restartDelayMs ?? 500;
    while (!o.signal.aborted) {
      const sock = net.createConnection({ path: c.socket, onread: { buffer: readBuffer, callback: (k: number, b: Uint8Array) => (onRead(Buffer.from(b.buffer, b.byteOffset, k)), true) } });
      const ok = await new Promise<boolean>((resolve) => {
        sock.once('connect', () => resolve(true));
        sock.once('error', () => resolve(false));
      });
      if (ok) {
        delay = o.restartDelayMs ?? 500;
        const served = serve(sock);
        await Promise.race([served, stopped]);
        sock.destroy();
        await served;
        if (o.signal.aborted) break;
        if (o.pid != null && (await exitsWithin(o.pid, 1000, o.signal))) {
          r.end = 'target_exited'; // QEMU powered off: its channel is gone for good
          break;
        }
        o.reportError?.(`guest_agent: the guest channel ${c.socket} closed; reconnecting in ${delay} ms`);
      }
      await Promise.race([sleep(delay), stopped]);
      delay = Math.min(delay * 2, 8000);
    }
  }

  async function listenLoop() {
    const accepted: number[] = [];
    // Paused: a refused connection is never read; a served one is moved to the reused read buffer.
    const server = net.createServer({ pauseOnConnect: true }, (sock) => {
      const now = Date.now();
      while (accepted.length && now - accepted[0]! > STORM_WINDOW_MS) accepted.shift();
      if (current || accepted.length >= STORM_MAX) {
        n.connections_refused++;
        if (n.connections_refused === 1 || n.connections_refused % 100 === 0) {
          o.reportError?.(`guest_agent: refused a connection on ${c.socket} (${current ? 'one is open' : `more than ${STORM_MAX} in ${STORM_WINDOW_MS / 1000} s`}; ${n.connections_refused} refused so far)`);
        }
        sock.destroy();
        return;
      }
      accepted.push(now);
      serving = serve(withReadBuffer(sock, readBuffer, onRead));
    });
    let serving: Promise<void> | null = null;
    // Bound in a private directory, made 0600, then renamed into place (a stale socket or a symlink there is replaced).
    await listenUnix(server, c.socket);
    await stopped;
    current?.destroy();
    await serving; // its counters and `connected` settle before the last channel row
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
