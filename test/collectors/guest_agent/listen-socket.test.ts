// The listen-mode socket (mode "listen": QEMU connects to labtel) against
// neighbours: another local user trying to connect while labtel sets the
// socket up, a process swapping the socket for a symlink so that labtel's
// chmod lands on another file, a symlink planted at the path beforehand, and
// socket directories other users can write. Run as root (labtel is), with
// umask 0 where the window depends on it: labtel must not rely on the umask.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EpisodeClock } from '../../../src/clock/origin.js';
import { guestAgent } from '../../../src/collectors/guest_agent/collector.js';
import { guestAgentConfig } from '../../../src/collectors/guest_agent/config.js';
import { guestLoop, type GuestLoopResult } from '../../../src/collectors/guest_agent/run-loop.js';
import { JsonlWriter } from '../../../src/rows/jsonl-writer.js';
import { connectAsQemu } from '../../helpers/fake-guest.js';
import { readJsonl, tmpDir } from '../../helpers/tmp.js';
import { waitFor } from '../../helpers/wait.js';

const NOBODY = 65534;
const children: ChildProcess[] = [];
let umask: number | null = null;
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
  if (umask !== null) process.umask(umask);
  umask = null;
});

/** A guestLoop in listen mode on `socket`; `ready` resolves once something is listening at the path (or the loop ended). */
function listenLoop(socket: string, dir = tmpDir()) {
  const out = path.join(dir, `rows-${Math.random().toString(36).slice(2)}.jsonl`);
  const writer = new JsonlWriter(out, { availableInDeployment: false });
  const ac = new AbortController();
  const reports: string[] = [];
  const config = guestAgentConfig.parse({ socket, mode: 'listen', interval_ms: 1000 });
  const loop = guestLoop({ config, writer, clock: new EpisodeClock(process.hrtime.bigint()), signal: ac.signal, reportError: (m) => reports.push(m) });
  const ended = loop.then(
    (r) => ({ r, err: null as Error | null }),
    (err: Error) => ({ r: null as GuestLoopResult | null, err }),
  );
  return {
    out,
    reports,
    ended,
    async stop() {
      ac.abort();
      const e = await ended;
      writer.close();
      return e;
    },
  };
}

/** A node script run as another process (as `uid` when given), printing what it sees on stdout. */
function child(script: string, uid?: number): { out: () => string; proc: ChildProcess } {
  const proc = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'], ...(uid !== undefined ? { uid, gid: uid } : {}) });
  children.push(proc);
  let text = '';
  proc.stdout!.on('data', (d: Buffer) => (text += d.toString()));
  return { out: () => text, proc };
}

describe('guest_agent listen socket: no window', () => {
  // Regression for: server.listen(path) then chmod(path, 0600): between the two, with a permissive
  // umask, anyone could connect (and be served as the guest), seeing the socket world-connectable.
  it('a neighbour (another user) watching and connecting during 40 setups never finds the socket at the path with a mode other than 0600, and never connects', async () => {
    const dir = tmpDir('labtel-listen-race-');
    fs.chmodSync(dir, 0o755); // the neighbour may look in, not write: a directory labtel accepts
    const sock = path.join(dir, 'guest.sock');
    umask = process.umask(0);
    // A tight synchronous loop (the window is microseconds): report every mode seen; try to connect when it is not 0600.
    const neighbour = child(
      `const fs = require('fs'), net = require('net'); const p = ${JSON.stringify(sock)}; let seen = 0, t = Date.now();
       process.stdout.write('watching\\n');
       for (;;) { let st; try { st = fs.lstatSync(p); } catch { continue; }
         if (!st.isSocket()) continue; const m = st.mode & 0o7777;
         if (m !== 0o600) { process.stdout.write('mode ' + m.toString(8) + '\\n'); const c = net.connect(p); c.on('connect', () => { process.stdout.write('connected\\n'); c.write('{"neighbour":1}\\n'); }); c.on('error', () => {}); setImmediate(() => {}); break; }
         if (++seen % 1000 === 0 || Date.now() - t > 50) { process.stdout.write('ok600\\n'); t = Date.now(); } }
       setTimeout(() => process.exit(0), 2000);`,
      NOBODY,
    );
    await waitFor(() => neighbour.out().includes('watching') || undefined, 'the neighbour to start watching');
    let connections = 0;
    let setups = 0;
    for (let i = 0; i < 40; i++) {
      if (neighbour.out().includes('mode ')) break;
      const l = listenLoop(sock);
      await waitFor(() => fs.existsSync(sock) || undefined, 'the listening socket');
      setups++;
      await new Promise((r) => setTimeout(r, 5));
      const { r, err } = await l.stop();
      expect(err).toBeNull();
      connections += r!.counters.connections + r!.counters.connections_refused;
      fs.rmSync(sock, { force: true });
    }
    await new Promise((r) => setTimeout(r, 100));
    const seen = neighbour.out();
    expect(setups).toBeGreaterThan(0);
    expect(seen, 'the neighbour did see sockets at the path').toMatch(/ok600|mode /);
    expect(seen, 'what the neighbour saw').not.toMatch(/mode |connected/);
    expect(connections, 'connections labtel saw').toBe(0);
  });

  // Regression for: the chmod after listen followed a symlink swapped in for the socket, changing the mode of another file.
  it('a process swapping the socket for a symlink to another file, as soon as it appears, during 40 setups: that file\'s mode is untouched', async () => {
    const dir = tmpDir('labtel-listen-swap-');
    const sock = path.join(dir, 'guest.sock');
    const victim = path.join(tmpDir(), 'victim');
    fs.writeFileSync(victim, 'not labtel\'s');
    fs.chmodSync(victim, 0o644);
    const swapper = child(
      `const fs = require('fs'); const p = ${JSON.stringify(sock)}, l = p + '.lnk'; let n = 0;
       process.stdout.write('ready\\n');
       for (;;) { let st; try { st = fs.lstatSync(p); } catch { continue; }
         if (!st.isSocket()) continue;
         try { fs.symlinkSync(${JSON.stringify(victim)}, l); } catch {} try { fs.renameSync(l, p); process.stdout.write('swapped\\n'); } catch {} }`,
    );
    await waitFor(() => swapper.out().includes('ready') || undefined, 'the swapper to start');
    let setups = 0;
    for (let i = 0; i < 40; i++) {
      const l = listenLoop(sock);
      // The loop listens (or fails, when the swap broke it): either way the setup is over.
      await waitFor(() => (fs.existsSync(sock) || swapper.out().split('swapped').length > i + 1 ? true : undefined), 'the socket set up (and swapped)');
      setups++;
      await l.stop();
      fs.rmSync(sock, { force: true });
      expect(fs.statSync(victim).mode & 0o7777, `the victim's mode after setup ${i + 1}`).toBe(0o644);
    }
    expect(setups).toBe(40);
    expect(swapper.out()).toMatch(/swapped/); // the swapper did act on labtel's sockets
  });

  // Regression for: a symlink planted at the socket path made listen fail (EADDRINUSE) or, once replaced, led the chmod elsewhere.
  it('a symlink planted at the path beforehand is replaced by the socket (not followed): its target keeps its mode, and a guest is served', async () => {
    const dir = tmpDir('labtel-listen-planted-');
    const sock = path.join(dir, 'guest.sock');
    const victim = path.join(tmpDir(), 'victim');
    fs.writeFileSync(victim, 'x');
    fs.chmodSync(victim, 0o644);
    fs.symlinkSync(victim, sock);
    const l = listenLoop(sock);
    await Promise.race([
      waitFor(() => (fs.lstatSync(sock).isSocket() ? true : undefined), 'the socket in place of the symlink'),
      l.ended.then((e) => {
        if (e.err) throw e.err; // (before the fix: listen failed with EADDRINUSE on the symlink)
      }),
    ]);
    expect(fs.lstatSync(sock).mode & 0o7777).toBe(0o600);
    expect(fs.statSync(victim).mode & 0o7777).toBe(0o644);
    expect(fs.readFileSync(victim, 'utf8')).toBe('x');
    const g = await connectAsQemu(sock);
    await g.send('{"a":1}\n');
    await waitFor(() => (fs.existsSync(l.out) && fs.readFileSync(l.out, 'utf8').includes('"kind":"line"')) || undefined, 'the line row');
    const { r, err } = await l.stop();
    expect(err).toBeNull();
    expect(r!.counters).toMatchObject({ connections: 1, lines: 1 });
    expect(readJsonl(l.out).filter((x) => x.kind === 'line').map((x) => x.guest)).toEqual([{ a: 1 }]);
    // No temporary directory is left beside the socket, and the socket is removed once the loop stops.
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  // Regression for: a socket path in a directory other users can write was accepted (they can take the name first or swap it).
  it.each([
    ['a 0777 directory', (d: string) => fs.chmodSync(d, 0o777), /is writable by every user \(mode 0777\)/],
    ['a sticky 1777 directory (like /tmp)', (d: string) => fs.chmodSync(d, 0o1777), /is writable by every user \(mode 1777\)/],
    ['a group-writable 0770 directory', (d: string) => fs.chmodSync(d, 0o770), /is writable by its group \(mode 0770\)/],
    ['a 0755 directory owned by another user', (d: string) => fs.chownSync(d, NOBODY, NOBODY), new RegExp(`is owned by uid ${NOBODY}, neither root nor labtel's user`)],
  ])('%s: refused by the probe and by the loop, naming the directory; nothing is created there', async (_, make, why) => {
    const dir = tmpDir('labtel-listen-unsafe-');
    fs.chmodSync(dir, 0o755);
    make(dir);
    const sock = path.join(dir, 'guest.sock');
    const config = guestAgentConfig.parse({ socket: sock, mode: 'listen' });
    const probe = await guestAgent.probe(config);
    expect(probe.available).toBe(false);
    expect(probe.reason).toContain(`the socket's directory ${dir}`);
    expect(probe.reason).toMatch(why);
    const l = listenLoop(sock);
    const { err } = await l.ended;
    await l.stop();
    expect(err?.message).toContain(`refusing to listen on ${sock}: the socket's directory ${dir}`);
    expect(err?.message).toMatch(why);
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('/tmp itself is refused', async () => {
    const sock = path.join('/tmp', `labtel-test-${process.pid}.sock`);
    const probe = await guestAgent.probe(guestAgentConfig.parse({ socket: sock, mode: 'listen' }));
    expect(probe).toEqual({ available: false, reason: expect.stringMatching(/^refusing to listen on \/tmp\/labtel-test-\d+\.sock: the socket's directory \/tmp is writable by every user \(mode 1777\)/) });
    expect(fs.existsSync(sock)).toBe(false);
  });
});
