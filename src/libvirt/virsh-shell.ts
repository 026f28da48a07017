// One long-lived `virsh -c URI` shell that runs libvirt commands one at a
// time: a command costs a line on its stdin and a round trip to libvirtd,
// not a process and a connection (a `virsh` run per command costs several
// ms of CPU: see README "libvirt domains"). virsh's interactive shell echoes
// each command and a prompt on its stdout, so each command is followed by
// `echo --err -- MARK` and `echo -- MARK`, MARK a random nonce nobody else
// sees: stderr up to "error: MARK" is the command's error text, stdout up to
// the line MARK starts holds its output. What libvirtd relays from QEMU or the guest agent is
// read in lines of at most maxLineBytes; a longer one ends the shell, as a
// QMP message over the bound ends a direct connection. A command that gets
// no answer in time ends the shell too: the next one would wait behind it.
import { spawn, type ChildProcess, type ChildProcessWithoutNullStreams, type StdioOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { BoundedLineReader } from '../util/bounded-line-reader.js';
import { childEnv } from '../util/child-env.js';
import { which } from '../util/which.js';
import type { LibvirtRef } from './ref.js';

/** Lines of virsh's stderr kept for one command's error (libvirt's messages are one line each). */
const MAX_ERROR_LINES = 8;
/** Characters of one error line kept. */
const MAX_ERROR_CHARS = 500;

export interface VirshOutput {
  /** stdout lines that are neither the shell's prompt nor its echo of a command: the command's output. */
  lines: string[];
}

/** A command virsh ran and failed, with its error text (`error: ...` lines). */
export class VirshError extends Error {
  override name = 'VirshError';
}

interface Pending {
  mark: string;
  what: string;
  out: string[];
  /** Bytes of `out` (its lines together stay within the line bound: a relay printing many lines is no way around it). */
  outBytes: number;
  err: string[];
  outDone: boolean;
  errDone: boolean;
  resolve: (o: VirshOutput) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

/** Quotes one argument for virsh's command parser: single quotes, a quote inside as '\''. */
export function virshQuote(arg: string): string {
  if (/[\n\r\0]/.test(arg)) throw new Error(`an argument for virsh holds a line break or NUL: ${JSON.stringify(arg.slice(0, 80))}`);
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/**
 * virsh, under `setpriv --pdeathsig KILL` when setpriv is there: a labtel that is killed takes its virsh along
 * (`qemu-monitor-event --loop` would otherwise run on for good). LC_ALL=C: libvirt's messages untranslated.
 */
export function spawnVirsh(virsh: string, args: string[], stdio: StdioOptions): ChildProcess {
  const setpriv = which('setpriv');
  const argv = setpriv ? [setpriv, '--pdeathsig', 'KILL', '--', virsh, ...args] : [virsh, ...args];
  return spawn(argv[0]!, argv.slice(1), { stdio, env: { ...childEnv(), LC_ALL: 'C' } });
}

/** virsh's words for a domain that is not there (destroyed, or no longer under the id it was pinned by). */
export const DOMAIN_NOT_THERE = /failed to get domain|Domain not found|no domain with matching/i;
/** The same, or a domain that is not running (QEMU gone; and, for the guest agent, also a paused domain). */
export const DOMAIN_GONE = new RegExp(`domain is not running|${DOMAIN_NOT_THERE.source}`, 'i');

/**
 * The id of the running domain named `name`, from `virsh list` (names matched exactly there: virsh's own lookup takes a name
 * of digits for an id, and one shaped like a UUID for a UUID, so another domain could answer). Commands addressed by this id
 * reach this run of the domain only: destroyed and started again under its name, it has a new id, and a command to the old
 * one fails ("failed to get domain"), as a socket closes when its QEMU goes. With `uuid` (read from the running domain when
 * the target was resolved), the domain found must have it: another domain created under the name is not this one.
 */
export async function runningDomainId(shell: VirshShell, name: string, ms: number, uuid?: string): Promise<string> {
  const out = await shell.run(['list'], ms, 'list');
  let id: string | null = null;
  for (const l of out.lines) {
    const m = /^\s*(\d+)\s+(\S+)(\s|$)/.exec(l);
    if (m && m[2] === name) id = m[1]!;
  }
  if (id === null) throw new Error(`failed to get domain '${name}': not among the running domains (virsh list)`);
  if (uuid !== undefined) {
    const got = (await shell.run(['domuuid', id], ms, 'domuuid')).lines.map((l) => l.trim()).find((l) => l !== '')?.toLowerCase();
    if (got !== uuid.toLowerCase()) {
      throw new Error(`failed to get domain '${name}': the running domain of that name (id ${id}) has uuid ${got ?? '(none said)'}, not ${uuid}: another domain was created under the name`);
    }
  }
  return id;
}

export class VirshShell {
  /** Resolves with why, once the shell is gone. */
  readonly closed: Promise<string>;
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly queue: Array<{ args: string[]; ms: number; what: string; resolve: (o: VirshOutput) => void; reject: (e: Error) => void }> = [];
  private current: Pending | null = null;
  private closeReason: string | null = null;
  private markClosed!: (why: string) => void;

  constructor(
    readonly ref: Pick<LibvirtRef, 'uri'>,
    private readonly maxLineBytes: number,
    virsh = 'virsh',
  ) {
    this.closed = new Promise((resolve) => (this.markClosed = resolve));
    this.child = spawnVirsh(virsh, ['-q', '-c', ref.uri], ['pipe', 'pipe', 'pipe']) as ChildProcessWithoutNullStreams;
    const out = new BoundedLineReader(maxLineBytes, (l) => this.onOut(l.toString('utf8')), {
      onOversize: () => this.fail(`virsh printed a line longer than ${maxLineBytes} bytes (libvirt relays what QEMU sends); the shell was ended`),
    });
    const err = new BoundedLineReader(64 << 10, (l) => this.onErr(l.toString('utf8')));
    this.child.stdout.on('data', (d: Buffer) => out.push(d));
    this.child.stderr.on('data', (d: Buffer) => err.push(d));
    this.child.on('error', (e) => this.fail(`cannot run virsh: ${e.message}`));
    this.child.on('exit', (code, sig) => this.fail(`virsh -c ${ref.uri} ended (${sig ?? `exit ${code}`})`));
    this.child.stdin.on('error', () => {}); // the exit says why
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Runs one virsh command (its words, quoted here); rejects with virsh's error text, a timeout, or the shell's end. */
  run(args: string[], ms: number, what = args[0] ?? 'virsh'): Promise<VirshOutput> {
    if (this.closeReason) return Promise.reject(new Error(`${what}: ${this.closeReason}`));
    return new Promise((resolve, reject) => {
      this.queue.push({ args, ms, what, resolve, reject });
      this.next();
    });
  }

  close(why = 'closed by labtel'): void {
    this.fail(why);
  }

  private next(): void {
    if (this.current || this.closeReason) return;
    const q = this.queue.shift();
    if (!q) return;
    let line: string;
    try {
      line = q.args.map(virshQuote).join(' ');
    } catch (e) {
      q.reject(new Error(`${q.what}: ${(e as Error).message}`));
      return this.next();
    }
    const mark = `labtel-${randomBytes(12).toString('hex')}`;
    const timer = setTimeout(() => this.fail(`${q.what}: no answer from virsh within ${q.ms} ms (libvirtd or QEMU did not answer); the shell was ended`), q.ms);
    this.current = { mark, what: q.what, out: [], outBytes: 0, err: [], outDone: false, errDone: false, resolve: q.resolve, reject: q.reject, timer };
    // The empty line last: echo prints MARK with no line end, and the shell's next prompt ends that line.
    this.child.stdin.write(`${line}\necho --err -- ${mark}\necho -- ${mark}\n\n`);
  }

  private onOut(raw: string): void {
    const p = this.current;
    if (!p || p.outDone) return; // the shell's own words between commands
    // The shell's prompt and its echo of what it read precede the output on the same stream.
    let line = raw;
    while (line.startsWith('virsh # ')) line = line.slice(8);
    if (line.startsWith(p.mark)) {
      // What `echo -- MARK` printed: the last of this command's words on stdout (the next prompt may follow on its line).
      p.outDone = true;
      return this.settle();
    }
    if (line.includes(p.mark)) return; // the shell's echo of the two echo commands
    // The shell's echo of the command (every word labtel sends is quoted, so it starts with a quote; readline may
    // break a long one with carriage returns, never with a line end).
    if (line === '' || line.startsWith("'")) return;
    p.outBytes += line.length;
    if (p.outBytes > this.maxLineBytes) return this.fail(`virsh printed more than ${this.maxLineBytes} bytes for one command (libvirt relays what QEMU sends); the shell was ended`);
    p.out.push(line);
  }

  private onErr(line: string): void {
    const p = this.current;
    if (!p || p.errDone) return;
    if (line === `error: ${p.mark}`) {
      p.errDone = true;
      return this.settle();
    }
    if (line.trim() && p.err.length < MAX_ERROR_LINES) p.err.push(line.slice(0, MAX_ERROR_CHARS));
  }

  private settle(): void {
    const p = this.current;
    if (!p || !p.outDone || !p.errDone) return;
    clearTimeout(p.timer);
    this.current = null;
    if (p.err.length) p.reject(new VirshError(`${p.what}: ${p.err.map((l) => l.replace(/^error: /, '')).join('; ')}`));
    else p.resolve({ lines: p.out });
    this.next();
  }

  private fail(why: string): void {
    if (this.closeReason) return;
    this.closeReason = why;
    const p = this.current;
    this.current = null;
    if (p) {
      clearTimeout(p.timer);
      p.reject(new Error(why.startsWith(`${p.what}:`) ? why : `${p.what}: ${why}`));
    }
    for (const q of this.queue.splice(0)) q.reject(new Error(`${q.what}: ${why}`));
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    this.markClosed(why);
  }
}
