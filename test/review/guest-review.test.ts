// Review of issue 17 point 3 (the guest channel's byte budget) and the
// listen socket of point 4, from the attacker's side: a qemu-guest-agent
// whose errors are megabytes long, a neighbour's symlink on the way to the
// socket's directory, and the listen-mode read path (the accepted socket's
// handle moved to one that reads into a reused buffer, and its fallback).
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EpisodeClock } from '../../src/clock/origin.js';
import { guestAgentConfig } from '../../src/collectors/guest_agent/config.js';
import { GuestLines, newCounters } from '../../src/collectors/guest_agent/guest-lines.js';
import { ROW_OVERHEAD_MAX } from '../../src/collectors/guest_agent/row-text.js';
import { guestLoop } from '../../src/collectors/guest_agent/run-loop.js';
import { JsonlWriter } from '../../src/rows/jsonl-writer.js';
import { ROW_SCHEMAS } from '../../src/rows/registry.js';
import { scanFile } from '../../src/verify/scan-rows.js';
import { listenUnix, unsafeSocketDir, withReadBuffer } from '../../src/util/unix-listen.js';
import { readJsonl, tmpDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

const MiB = 1 << 20;
const NOBODY = 65534;
const closers: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
});

/** A qga that gets in step, then answers every command with an error whose class is `classBytes` long. */
async function agentWithHugeErrors(socket: string, classBytes: number): Promise<void> {
  const answer = Buffer.from(JSON.stringify({ error: { class: 'C'.repeat(classBytes), desc: 'no' } }) + '\n');
  const server = net.createServer((s) => {
    s.on('error', () => {});
    let buf = '';
    s.on('data', (d) => {
      buf += d.toString('latin1');
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const req = JSON.parse(buf.slice(0, nl).replace(/^\xff/, '')) as { execute: string; arguments?: { id: number } };
        buf = buf.slice(nl + 1);
        s.write(req.execute === 'guest-sync-delimited' ? Buffer.from(`\xff{"return": ${req.arguments!.id}}\n`, 'latin1') : answer);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  closers.push(() => new Promise((r) => server.close(r)));
}

describe('guest_agent qga: errors are guest text too', () => {
  // regression for: a qga error's class was copied whole into the poll's null row (QapiError.fromReply
  // cut only desc), and null rows are not charged to the byte budget: a 2 MiB class made every poll
  // write 4 rows of 2 MiB (8 MiB a second at interval_ms 1000, 80 MiB/s at 100) past max_bytes_per_s.
  it('an agent answering each command with a 2 MiB error class: every null row stays within the envelope, and polling goes on', async () => {
    const dir = tmpDir('labtel-rc-qga-');
    const socket = path.join(dir, 'qga.sock');
    await agentWithHugeErrors(socket, 2 * MiB);
    const out = path.join(dir, 'rows.jsonl');
    const writer = new JsonlWriter(out, { availableInDeployment: false });
    const ac = new AbortController();
    const config = guestAgentConfig.parse({ socket, protocol: 'qga', interval_ms: 50, max_line_bytes: 4 * MiB });
    const loop = guestLoop({ config, writer, clock: new EpisodeClock(process.hrtime.bigint()), signal: ac.signal });
    closers.push(() => ac.abort());
    const qgaRows = () => (fs.existsSync(out) ? fs.readFileSync(out, 'utf8').split('\n').filter((l) => l.includes('"kind":"qga"')) : []);
    await waitFor(() => (qgaRows().length >= 8 ? true : undefined), 'two polls of null rows');
    ac.abort();
    await loop;
    writer.close();
    const rows = readJsonl(out);
    const texts = fs.readFileSync(out, 'utf8').split('\n').filter((l) => l.includes('"kind":"qga"'));
    expect(texts.length).toBeGreaterThanOrEqual(8);
    for (const t of texts) expect(Buffer.byteLength(t) + 1).toBeLessThanOrEqual(ROW_OVERHEAD_MAX);
    const nulls = rows.filter((r) => r.kind === 'qga');
    expect(nulls.length).toBeGreaterThanOrEqual(8);
    for (const r of nulls) {
      expect(r.result).toBeNull();
      expect((r.null_reasons as Record<string, string>).result).toMatch(/^guest-[a-z-]+: C{64}\.\.\. \(2097152 characters\): no$/);
    }
    expect(rows.map((r) => ROW_SCHEMAS.guest!.safeParse(r).error).filter(Boolean)).toEqual([]);
  });
});

describe('unsafeSocketDir: symlinks on the way to the socket', () => {
  // regression for: only the real path's directories were judged, so a symlink another user owns
  // (in sticky /tmp, where they can replace it at will) passed when it pointed at a safe directory:
  // they could later point it (and QEMU's connect) at a socket of their own.
  it('refuses a symlink owned by another user, naming it', () => {
    const real = tmpDir();
    const link = path.join('/tmp', `labtel-rc-link-${process.pid}`);
    fs.rmSync(link, { force: true });
    fs.symlinkSync(real, link);
    closers.push(() => fs.rmSync(link, { force: true }));
    fs.lchownSync(link, NOBODY, NOBODY);
    expect(unsafeSocketDir(path.join(link, 's.sock'))).toBe(
      `${link}, a symlink on the way to the socket's directory ${link}, is owned by uid ${NOBODY}, neither root nor labtel's user (0): that user could point it elsewhere; name a directory without it`,
    );
  });

  // regression for: the directory holding a symlink was not judged when it is not on the real path:
  // anyone could replace a root-owned symlink in a directory every user can write.
  it('refuses a symlink in a non-sticky directory others can write, naming both', () => {
    const real = tmpDir();
    const open = tmpDir();
    fs.chmodSync(open, 0o777);
    const link = path.join(open, 'link');
    fs.symlinkSync(real, link);
    expect(unsafeSocketDir(path.join(link, 'sub', '..', 's.sock'))).toBe(
      `${link}, a symlink on the way to the socket's directory ${path.join(link, 'sub', '..')}, is in ${open}, writable by every user (mode 0777, not sticky): another user could replace it; name a directory without it`,
    );
  });

  // regression for: a libvirt-style channel directory (owned by the QEMU user, 0750) was refused with no
  // way out named; the real way out for such a lab is QEMU as the server and labtel connecting.
  it('a channel directory owned by the QEMU user (libvirt-qemu, 0750): refused, naming a directory root owns or connect mode as the way out', () => {
    const top = tmpDir();
    fs.chmodSync(top, 0o755);
    const d = path.join(top, 'domain-1-guest');
    fs.mkdirSync(d, { mode: 0o750 });
    fs.chownSync(d, NOBODY, NOBODY);
    expect(unsafeSocketDir(path.join(d, 'org.labtel.telemetry.0'))).toBe(
      `the socket's directory ${d} is owned by uid ${NOBODY}, neither root nor labtel's user (0): that user could replace the socket; use a directory only root (or labtel's user) can write, or let QEMU be the server (chardev server=on, libvirt's mode='bind') and use mode "connect"`,
    );
  });

  it('a root-owned symlink in a root-owned directory is followed, and the real directory judged', () => {
    const real = tmpDir();
    const link = path.join(tmpDir(), 'link');
    fs.symlinkSync(real, link);
    expect(unsafeSocketDir(path.join(link, 's.sock'))).toBeNull();
  });
});

describe('listenUnix: after the server closes', () => {
  // regression for: the socket was bound in the private directory and renamed, so libuv's unlink on
  // close hit the old name: every episode left its socket at the path (the old code's socket was removed).
  it('the socket labtel made is removed from the path; one put there since is left alone', async () => {
    const d = tmpDir();
    const p = path.join(d, 's.sock');
    const a = net.createServer();
    await listenUnix(a, p);
    expect(fs.lstatSync(p).isSocket()).toBe(true);
    await new Promise((r) => a.close(r));
    expect(fs.readdirSync(d)).toEqual([]);

    const b = net.createServer();
    await listenUnix(b, p);
    const other = net.createServer();
    closers.push(() => new Promise((r) => other.close(r)));
    await listenUnix(other, p); // a later run took the name over: b's close must not remove it
    await new Promise((r) => b.close(r));
    expect(fs.lstatSync(p).isSocket()).toBe(true);
    const c = net.createConnection(p);
    await new Promise<void>((resolve, reject) => c.once('connect', resolve).once('error', reject));
    c.destroy();
  });
});

describe('withReadBuffer: the accepted socket moved to one reading into a reused buffer', () => {
  /** A paused server whose one connection goes through withReadBuffer; resolves with what it read. */
  async function serveOne(prepare: (accepted: net.Socket) => void) {
    const dir = tmpDir('labtel-rc-wrb-');
    const p = path.join(dir, 's');
    const buffer = Buffer.alloc(64 * 1024);
    const chunks: Buffer[] = [];
    let sameMemory = 0;
    let reads = 0;
    let moved: net.Socket | null = null;
    let closed = false;
    const server = net.createServer({ pauseOnConnect: true }, (accepted) => {
      prepare(accepted);
      moved = withReadBuffer(accepted, buffer, (bytes) => {
        reads++;
        if (bytes.buffer === buffer.buffer) sameMemory++;
        chunks.push(Buffer.from(bytes));
      });
      moved.on('error', () => {});
      moved.once('close', () => (closed = true));
    });
    await new Promise<void>((resolve) => server.listen(p, resolve));
    closers.push(() => new Promise((r) => server.close(r)));
    const payload = Buffer.alloc(3 * MiB + 17);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 7919) >>> 5;
    const c = net.createConnection(p);
    let answered = '';
    c.on('data', (d: Buffer) => (answered += d.toString()));
    await new Promise<void>((resolve) => c.once('connect', resolve));
    await waitFor(() => moved ?? undefined, 'the connection moved');
    moved!.write('to the guest\n'); // qga writes its commands on the moved socket
    await waitFor(() => (answered === 'to the guest\n' ? true : undefined), 'the peer to get what labtel wrote');
    await new Promise<void>((resolve) => c.end(payload, resolve));
    await waitFor(() => (closed ? true : undefined), 'the moved socket to close after the peer ended');
    return { got: Buffer.concat(chunks), payload, reads, sameMemory, moved: moved! };
  }

  it('moved: every byte once and in order, each read in the given buffer, and close on the peer\'s end', async () => {
    const r = await serveOne(() => {});
    expect(r.reads).toBeGreaterThan(0);
    expect(r.sameMemory).toBe(r.reads);
    expect(r.got.equals(r.payload)).toBe(true);
    expect(r.moved.destroyed).toBe(true);
  });

  it('fallback (no useUserBuffer on the handle, as a Node without it): every byte once and in order, and close', async () => {
    const r = await serveOne((accepted) => {
      const h = (accepted as unknown as { _handle: Record<string, unknown> })._handle;
      h.useUserBuffer = undefined; // an own property hides the method: the fallback's test
    });
    expect(r.reads).toBeGreaterThan(0);
    expect(r.sameMemory).toBe(0);
    expect(r.got.equals(r.payload)).toBe(true);
  });
});

describe('guest lines written as sent: the rows file stays JSONL that verify reads', () => {
  // Checked, held: the guest's raw text cannot leave its `guest` member or break a row's line.
  it('CRs and tabs between tokens, raw U+2028/U+2029/U+0085, escaped NUL and lone surrogates, duplicate and __proto__ keys, a BOM', () => {
    const sent = [
      '{"a":\r1,\t"b"\r:\r2}\r',
      '{"s":"\u2028\u2029\u0085 raw"}',
      '{"s":"\\u0000\\ud800\\udfff"}',
      '{"a":1,"a":2,"__proto__":{"x":1},"constructor":{"prototype":{"y":1}}}',
      '\ufeff{"bom":1}',
      '{"k":"}\\",\\"source\\":\\"x"}',
    ];
    const out = path.join(tmpDir('labtel-rc-raw-'), 'telemetry-guest.jsonl');
    const writer = new JsonlWriter(out, { availableInDeployment: false });
    const counters = newCounters();
    const g = new GuestLines({ max_lines_per_s: 1000, max_bytes_per_s: MiB, max_total_mb: 1, lineCap: MiB, writer, counters, now: () => 1e9 });
    for (const l of sent) g.line(Buffer.from(l));
    writer.close();
    expect(counters.lines).toBe(sent.length);
    const rows = readJsonl(out);
    expect(rows.length).toBe(sent.length);
    for (const r of rows) expect(Object.keys(r)).toEqual(['source', 't_mono_ns', 'seq', 'available_in_deployment', 'kind', 'guest', 'guest_t']);
    expect(rows.map((r) => r.guest)).toEqual(sent.map((l) => JSON.parse(l.replace(/^\ufeff/, ''))));
    expect(rows.map((r) => ROW_SCHEMAS.guest!.safeParse(r).error).filter(Boolean)).toEqual([]);
    const scan = scanFile(out);
    expect(scan.lines).toBe(sent.length);
    expect(scan.badLines).toBe(0);
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });
});
