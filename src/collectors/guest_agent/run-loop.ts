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
import { exitsWithin, isAlive } from '../../util/process-exit.js';
import { BoundedLineReader } from '../../util/bounded-line-reader.js';
import { QapiError } from '../../util/qapi-error.js';
import { listenUnix, withReadBuffer } from '../../util/unix-listen.js';
import { GuestLines, newCounters, type GuestCounters } from './guest-lines.js';
import { QGA_MAX_ANSWER_BYTES, QgaSession, type QgaAnswer } from './qga-session.js';
import { LibvirtQga } from './qga-libvirt.js';
import { linkWhere, type LibvirtRef } from '../../libvirt/ref.js';

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
  /** qga through libvirt (virsh qemu-agent-command), when libvirtd holds the agent's channel: no socket then. */
  libvirt?: LibvirtRef & { virsh?: string };
  /** For tests. */
  restartDelayMs?: number;
}

export type { GuestCounters } from './guest-lines.js';

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
  const n = newCounters();
  const r: GuestLoopResult = { end: 'stopped', valueRows: 0, counters: n, disabled: {} };
  /** The connection served: the channel's socket, or the shell through libvirt. */
  let current: net.Socket | LibvirtQga | null = null;

  // qga answers are read up to 4 MiB whatever max_line_bytes is: the session holds a bounded number of bytes.
  const lineCap = c.protocol === 'qga' ? Math.min(c.max_line_bytes, QGA_MAX_ANSWER_BYTES) : c.max_line_bytes;
  const guest = new GuestLines({ ...c, lineCap, writer: w, counters: n, now: () => o.clock.now(), reportError: o.reportError });
  const channelRow = () =>
    w.write('guest', o.clock.now(), { kind: 'channel', connected: current !== null, ...n, dropped_oversize: n.dropped_oversize + (reader?.oversize ?? 0) });
  let reader: BoundedLineReader | null = null;

  // One connection is served at a time: its reads, into readBuffer, go to `feed`.
  const readBuffer = Buffer.allocUnsafe(READ_BUFFER_BYTES);
  let feed: ((d: Buffer) => void) | null = null;
  const onRead = (d: Buffer) => feed?.(d);

  /** Serves one connection until it closes; with qga, polls it meanwhile. */
  const serve = async (sock: net.Socket) => {
    current = sock;
    n.connections++;
    const qga = c.protocol === 'qga' ? new QgaSession((b) => sock.write(b), unasked) : null;
    reader = new BoundedLineReader(lineCap, qga ? (l) => qga.onLine(l) : (l) => guest.line(l));
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

  /** A qga line nobody asked for, dropped: counted, and reported once per power of ten (a flood makes a handful of messages). */
  const unasked = () => {
    const k = ++n.dropped_unasked;
    if (Number.isInteger(Math.log10(k))) {
      o.reportError?.(`guest_agent: the agent sent lines nobody asked for (not an answer to labtel's question, or late): dropped (${k} so far, counted in dropped_unasked)`);
    }
  };

  let osinfoDone = false;
  const pollQga = async (qga: { execute(command: string): Promise<QgaAnswer> }, closed: Promise<unknown>) => {
    let open = true;
    void closed.then(() => (open = false));
    while (open && !o.signal.aborted) {
      const commands = [...(osinfoDone ? [] : ['guest-get-osinfo']), ...POLLED].filter((x) => !(x in r.disabled));
      for (const command of commands) {
        if (!open) break;
        try {
          const answer = await qga.execute(command);
          if (guest.answer(command, answer) && command === 'guest-get-osinfo') osinfoDone = true;
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
    if (o.libvirt) await libvirtLoop(o.libvirt);
    else if (c.mode === 'connect') await connectLoop();
    else await listenLoop();
  } finally {
    clearInterval(ticker);
    channelRow();
    w.flush();
  }
  r.valueRows = guest.valueRows;
  return r;

  /** qga through libvirt: one virsh shell at a time, polled until it ends (a command virsh held too long, or the domain gone). */
  async function libvirtLoop(ref: LibvirtRef & { virsh?: string }) {
    let delay = o.restartDelayMs ?? 500;
    while (!o.signal.aborted) {
      const qga = new LibvirtQga(ref, lineCap, (k) => (n.bytes += k));
      // Pinned to whichever guest runs the domain now: with the QEMU labtel was given gone, it is another one (the domain
      // started again), never polled under the old one's pid.
      await Promise.race([qga.pin().catch(() => {}), stopped]);
      if (o.signal.aborted || (o.pid != null && !isAlive(o.pid))) {
        qga.close();
        if (!o.signal.aborted) r.end = 'target_exited';
        break;
      }
      current = qga;
      n.connections++;
      const startedAt = performance.now();
      const polled = pollQga(qga, qga.closed);
      await Promise.race([qga.closed, stopped]);
      const why = o.signal.aborted ? null : await Promise.race([qga.closed, Promise.resolve(null)]);
      qga.close();
      await polled;
      current = null;
      if (o.signal.aborted) break;
      if (o.pid != null && (await exitsWithin(o.pid, 1000, o.signal))) {
        r.end = 'target_exited';
        break;
      }
      if (performance.now() - startedAt > 10_000) delay = o.restartDelayMs ?? 500;
      o.reportError?.(`guest_agent: qga through ${linkWhere(ref)}: ${why ?? 'ended'}; again in ${delay} ms`);
      await Promise.race([sleep(delay), stopped]);
      delay = Math.min(delay * 2, 8000);
    }
  }

  async function connectLoop() {
    const socket = c.socket!; // (a manifest without one has the domain's channel filled in, or is refused)
    let delay = o.restartDelayMs ?? 500;
    while (!o.signal.aborted) {
      const sock = net.createConnection({ path: socket, onread: { buffer: readBuffer, callback: (k: number, b: Uint8Array) => (onRead(Buffer.from(b.buffer, b.byteOffset, k)), true) } });
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
        o.reportError?.(`guest_agent: the guest channel ${socket} closed; reconnecting in ${delay} ms`);
      }
      await Promise.race([sleep(delay), stopped]);
      delay = Math.min(delay * 2, 8000);
    }
  }

  async function listenLoop() {
    const socket = c.socket!; // (a manifest without one has the domain's channel filled in, or is refused)
    const accepted: number[] = [];
    // Paused: a refused connection is never read; a served one is moved to the reused read buffer.
    const server = net.createServer({ pauseOnConnect: true }, (sock) => {
      const now = Date.now();
      while (accepted.length && now - accepted[0]! > STORM_WINDOW_MS) accepted.shift();
      if (current || accepted.length >= STORM_MAX) {
        n.connections_refused++;
        if (n.connections_refused === 1 || n.connections_refused % 100 === 0) {
          o.reportError?.(`guest_agent: refused a connection on ${socket} (${current ? 'one is open' : `more than ${STORM_MAX} in ${STORM_WINDOW_MS / 1000} s`}; ${n.connections_refused} refused so far)`);
        }
        sock.destroy();
        return;
      }
      accepted.push(now);
      serving = serve(withReadBuffer(sock, readBuffer, onRead));
    });
    let serving: Promise<void> | null = null;
    // Bound in a private directory, made 0600, then renamed into place (a stale socket or a symlink there is replaced).
    await listenUnix(server, socket);
    await stopped;
    (current as net.Socket | null)?.destroy(); // only sockets here
    await serving; // its counters and `connected` settle before the last channel row
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
