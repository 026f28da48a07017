// QMP through libvirt, for a QEMU whose monitor libvirtd holds: commands go
// through `virsh qemu-monitor-command` in one long-lived shell (virsh-shell.ts),
// events come from `virsh qemu-monitor-event --loop`, and both are handed to
// the same QmpLineHandler a socket feeds, so every bound of the direct path
// holds (message size, nesting, event rate, byte budget, queue): libvirt
// relays what QEMU sends, it does not vouch for it. The link makes up what
// only a direct connection has: the greeting, and the answer to
// qmp_capabilities (libvirt negotiated them long ago), for which it asks
// query-version: QEMU's version, and proof that the domain answers.
// Events carry QEMU's own timestamp ("event NAME at S.U for domain 'D': DATA"),
// so they are placed on the episode clock as direct ones are (event-row.ts).
import type { ChildProcess } from 'node:child_process';
import { BoundedLineReader } from '../util/bounded-line-reader.js';
import { jsonDepthExceeds, MAX_JSON_DEPTH } from '../util/json-depth.js';
import type { QmpLink, QmpLinkSpec } from '../qmp/client.js';
import type { QmpLineHandler } from '../qmp/line-handler.js';
import { linkWhere, virshDomain, type LibvirtRef } from './ref.js';
import { DOMAIN_GONE, runningDomainId, spawnVirsh, VirshShell } from './virsh-shell.js';

export interface VirshLinkOptions {
  /** The longest line read from virsh: QMP's message bound. */
  maxMessageBytes: number;
  /** How long virsh may take over one command before the shell is ended (the next would wait behind it). */
  commandTimeoutMs: number;
  /** The virsh program (tests). */
  virsh?: string;
}

/** "event NAME at SECONDS.MICROS for domain 'DOMAIN': DATA", as virsh qemu-monitor-event prints it. */
export function parseVirshEvent(line: string, domain: string): { event: string; seconds: number; micros: number; data: string } | null {
  const m = /^event (\S+) at (\d{1,15})\.(\d{6}) for domain '/.exec(line);
  if (!m) return null;
  const rest = line.slice(m[0].length);
  const tail = `${domain}': `;
  if (!rest.startsWith(tail)) return null;
  return { event: m[1]!, seconds: Number(m[2]), micros: Number(m[3]), data: rest.slice(tail.length) };
}

/** QmpClient.connect({ link: viaLibvirt(ref) }): QMP with the domain's QEMU through libvirt. */
export function viaLibvirt(ref: LibvirtRef & { virsh?: string }): QmpLinkSpec {
  return {
    where: linkWhere(ref),
    noGreeting: 'query-version got no answer through libvirt',
    open: (lines, fail, o) => new VirshQmpLink(ref, lines, fail, { ...o, virsh: ref.virsh }),
  };
}

export class VirshQmpLink implements QmpLink {
  private readonly shell: VirshShell;
  private readonly events: ChildProcess;
  /** The running domain's id, which every command names (runningDomainId): null until it is known. */
  private target: string | null = null;
  private closed = false;

  constructor(
    readonly ref: LibvirtRef,
    private readonly lines: QmpLineHandler,
    private readonly fail: (why: string) => void,
    private readonly o: VirshLinkOptions,
  ) {
    const where = linkWhere(ref);
    this.shell = new VirshShell(ref, o.maxMessageBytes, o.virsh);
    void this.shell.closed.then((why) => this.end(`${where}: ${why}`));
    // At once (events from the start, as on a socket), by uuid when it is known, else by name: virsh prints the name of
    // the domain an event is for, and parseVirshEvent takes the lines of this name only. libvirt matches events by the
    // domain's UUID: a domain started again with the same UUID is heard here until the next command, pinned to the old
    // id, ends the link.
    this.events = spawnVirsh(o.virsh ?? 'virsh', ['-q', '-c', ref.uri, 'qemu-monitor-event', '--domain', virshDomain(ref), '--loop'], ['ignore', 'pipe', 'pipe']);
    let stderr = '';
    const reader = new BoundedLineReader(o.maxMessageBytes, (l) => this.onEventLine(l.toString('utf8')), {
      onOversize: (_n, bytes) => this.tooLong(bytes),
    });
    this.events.stdout!.on('data', (d: Buffer) => reader.push(d));
    this.events.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString('utf8')).slice(-500)));
    this.events.on('error', (e) => this.end(`${where}: cannot run virsh qemu-monitor-event: ${e.message}`));
    this.events.on('exit', (code, sig) => this.end(`${where}: virsh qemu-monitor-event ended (${sig ?? `exit ${code}`})${stderr.trim() ? `: ${stderr.trim().replace(/^error: /gm, '').replace(/\n/g, '; ')}` : ''}`));
    // The greeting at once (its version comes with query-version, asked for qmp_capabilities): events that come
    // before it are then events, as on a socket, not a first message that is no greeting.
    setImmediate(() => this.closed || this.lines.feed(Buffer.from('{"QMP":{"version":{},"capabilities":[]}}\n')));
  }

  /** One command QmpClient sends, answered into the line handler under its id. */
  send(msg: { execute: string; arguments?: object; id: string }): void {
    // libvirt's connection is long past capabilities: labtel asks query-version instead, for the greeting's version,
    // and to know that the domain answers before connect() returns.
    if (msg.execute === 'qmp_capabilities') return void this.version(msg.id);
    const target = this.target;
    if (target === null) return this.lines.rejectPending(msg.id, new Error(`${msg.execute}: sent before the link knew the domain's id`));
    const body = JSON.stringify(msg.arguments ? { execute: msg.execute, arguments: msg.arguments } : { execute: msg.execute });
    this.shell.run(['qemu-monitor-command', target, body], this.o.commandTimeoutMs, msg.execute).then(
      (out) => {
        const reply = out.lines.filter((l) => l.trim() !== '');
        if (reply.length !== 1) return this.lines.rejectPending(msg.id, new Error(`${msg.execute}: virsh printed ${reply.length} lines for one reply through libvirt: ${JSON.stringify(reply.map((l) => l.slice(0, 100)))}`));
        this.lines.feedReply(reply[0]!, msg.id);
      },
      (err: Error) => {
        this.lines.rejectPending(msg.id, err);
        // A domain that is no longer there (it stopped, or went away) is a lost connection, as QEMU closing its socket is.
        if (DOMAIN_GONE.test(err.message)) this.end(`${linkWhere(this.ref)}: ${err.message}`);
      },
    );
  }

  close(): void {
    this.end('closed by labtel');
  }

  /** query-version: QEMU's version into the handler, then the answer to qmp_capabilities `id`. */
  private async version(id: string): Promise<void> {
    let out;
    try {
      // Pinned to this run of the domain: a domain destroyed and started again under its name is another QEMU, reached by
      // a new connection (whose loop sees the old QEMU gone), never answering on this one.
      const domainId = await runningDomainId(this.shell, this.ref.domain, this.o.commandTimeoutMs, this.ref.uuid);
      if (this.closed) return;
      this.target = domainId;
      out = await this.shell.run(['qemu-monitor-command', domainId, '{"execute":"query-version"}'], this.o.commandTimeoutMs, 'query-version');
    } catch (err) {
      return this.lines.rejectPending(id, err as Error);
    }
    const line = out.lines.find((l) => l.trim() !== '') ?? '';
    type Version = { qemu?: { major?: unknown; minor?: unknown; micro?: unknown } } | null;
    let v: Version = null;
    try {
      if (!jsonDepthExceeds(line, MAX_JSON_DEPTH)) v = (JSON.parse(line) as { return?: Version }).return ?? null;
    } catch {
      // no version, said below
    }
    const q = (v as Version)?.qemu;
    if (q && [q.major, q.minor, q.micro].every((x) => Number.isSafeInteger(x))) this.lines.version = `${q.major}.${q.minor}.${q.micro}`;
    else return this.lines.rejectPending(id, new Error(`query-version through libvirt answered no version: ${JSON.stringify(line.slice(0, 200))}`));
    this.lines.feedReply('{"return":{}}', id);
  }

  private onEventLine(line: string): void {
    if (this.closed) return;
    const e = parseVirshEvent(line, this.ref.domain);
    // What is not virsh's event line goes to the handler as it is: counted as a line that is not JSON, and shown once.
    if (!e) return this.lines.feed(Buffer.from(line + '\n'));
    let data: unknown = undefined;
    if (e.data !== '<null>') {
      if (jsonDepthExceeds(e.data, MAX_JSON_DEPTH)) return this.lines.feed(Buffer.from(`{"event":${JSON.stringify(e.event)},"data":${e.data}}\n`)); // judged (too deep) there
      try {
        data = JSON.parse(e.data);
      } catch {
        return this.lines.feed(Buffer.from(line + '\n'));
      }
    }
    const msg = { event: e.event, ...(data === undefined ? {} : { data }), timestamp: { seconds: e.seconds, microseconds: e.micros } };
    this.lines.feed(Buffer.from(JSON.stringify(msg) + '\n'));
  }

  private tooLong(bytes: number): void {
    // As the handler does for a socket: one problem of its kind, and the connection ends.
    const why = `QEMU sent a QMP event of more than ${this.o.maxMessageBytes} bytes through libvirt (${bytes} so far); disconnected`;
    this.lines.problems.add('too_long', () => why);
    this.end(why);
  }

  private end(why: string): void {
    if (this.closed) return;
    this.closed = true;
    this.shell.close(why);
    if (this.events.exitCode === null && this.events.signalCode === null) this.events.kill('SIGKILL');
    this.fail(why);
  }
}
