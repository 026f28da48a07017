// A scripted QMP server that lies about its vCPUs: a node process listening on
// a unix socket, answering the greeting, qmp_capabilities and query-cpus-fast,
// where each vCPU's thread-id is whatever the test chooses (another process's
// thread, or its own), and query-iothreads, naming one iothread when the test
// asks (with the thread-id it chooses), else none. It serves one client after another for as long as it
// runs, as QEMU's QMP socket does. Killed after the test.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach } from 'vitest';
import { tmpDir } from './tmp.js';

const SERVER = String.raw`
const net = require('node:net');
const [sock, named, count, ionamed] = process.argv.slice(1);
const tid = named === 'self' ? process.pid : Number(named);
const iotid = ionamed === 'self' ? process.pid : ionamed ? Number(ionamed) : null;
net.createServer((c) => {
  c.write(JSON.stringify({ QMP: { version: { qemu: { major: 7, minor: 2, micro: 0 }, package: '' }, capabilities: [] } }) + '\n');
  let buf = '';
  c.on('data', (d) => {
    buf += d;
    for (let i; (i = buf.indexOf('\n')) >= 0; ) {
      const m = JSON.parse(buf.slice(0, i));
      buf = buf.slice(i + 1);
      const ret = m.execute === 'query-cpus-fast' ? Array.from({ length: Number(count) }, (_, i) => ({ 'cpu-index': i, 'thread-id': tid, target: 'x86_64', 'qom-path': '/machine/unattached/device[' + i + ']' }))
        : m.execute === 'query-iothreads' ? (iotid === null ? [] : [{ id: 'iothread1', 'thread-id': iotid, 'poll-max-ns': 32768 }])
        : m.execute === 'query-status' ? { status: 'running', running: true }
        : {};
      c.write(JSON.stringify({ return: ret, id: m.id }) + '\n');
    }
  });
  c.on('error', () => {});
}).listen(sock, () => console.log('ready'));
`;

export interface HostileQmp {
  proc: ChildProcess;
  /** The server's own pid: the socket's peer. */
  pid: number;
  socket: string;
}

const started: ChildProcess[] = [];
afterEach(() => {
  for (const p of started.splice(0)) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
});

/**
 * Starts the server; `names` is the thread it reports as vCPU 0 ('self': its own main thread), and as every one of
 * `vcpus` vCPUs; `iothread`, when given, the thread it reports as iothread "iothread1".
 */
export async function startHostileQmp(names: number | 'self', vcpus = 1, iothread?: number | 'self'): Promise<HostileQmp> {
  return startHostileQmpAt(path.join(tmpDir('labtel-hostile-qmp-'), 'qmp.sock'), names, vcpus, iothread);
}

/** The same, listening at `socket` (a QEMU restarted on the same path); a stale socket file there is removed first. */
export async function startHostileQmpAt(socket: string, names: number | 'self' = 'self', vcpus = 1, iothread?: number | 'self'): Promise<HostileQmp> {
  fs.rmSync(socket, { force: true });
  const proc = spawn(process.execPath, ['-e', SERVER, socket, String(names), String(vcpus), iothread === undefined ? '' : String(iothread)], { stdio: ['ignore', 'pipe', 'pipe'] });
  started.push(proc);
  let stderr = '';
  proc.stderr!.on('data', (d) => (stderr += d));
  await new Promise<void>((resolve, reject) => {
    proc.stdout!.once('data', () => resolve());
    proc.once('exit', (code) => reject(new Error(`the hostile QMP server exited (${code}) before listening: ${stderr}`)));
  });
  return { proc, pid: proc.pid!, socket };
}
