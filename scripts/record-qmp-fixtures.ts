// Records real QMP traffic from a real QEMU into test/fixtures/qmp/, the
// seeds of the QMP fuzz target (test/fuzz/qmp-lines.ts): every line QEMU
// sent, byte for byte but for its "\r\n", one per line of the fixture.
//
//   node --import tsx scripts/record-qmp-fixtures.ts [OUT]   (OUT: test/fixtures/qmp)
//
// Two QEMUs (qemu-system-x86_64, paused with -S, a 1 MiB raw virtio drive):
//   qemu-tcg.jsonl  -machine pc,accel=tcg: the greeting, replies to
//                   query-status, query-blockstats, query-cpus-fast,
//                   query-stats-schemas, query-stats (vm, vcpu: empty under
//                   TCG), query-balloon (an error: no balloon), an unknown
//                   command (CommandNotFound), then cont, stop and quit with
//                   their RESUME, STOP and SHUTDOWN events.
//   qemu-kvm.jsonl  -machine q35,accel=kvm -cpu qemu64 (where /dev/kvm
//                   opens): the same, with KVM's statistics (numbers, flags
//                   and histograms) in query-stats-schemas and query-stats.
// The raw socket is used rather than labtel's client, so what is recorded is
// what QEMU sent, not what labtel made of it.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const OUT = process.argv[2] ?? 'test/fixtures/qmp';

async function record(name: string, machine: string[]): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'labtel-qmp-rec-'));
  const disk = path.join(dir, 'disk.raw');
  fs.writeFileSync(disk, Buffer.alloc(1 << 20));
  const sock = path.join(dir, 'qmp.sock');
  const qemu = spawn(
    'qemu-system-x86_64',
    [...machine, '-S', '-nodefaults', '-display', 'none', '-m', '64', '-drive', `file=${disk},format=raw,if=virtio,id=disk0`, '-qmp', `unix:${sock},server=on,wait=off`],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  qemu.stderr!.on('data', (d) => (stderr += d));
  try {
    for (let i = 0; !fs.existsSync(sock); i++) {
      if (qemu.exitCode !== null || i > 500) throw new Error(`${name}: QEMU did not start: ${stderr.trim()}`);
      await sleep(10);
    }
    const lines: string[] = [];
    const c = net.createConnection({ path: sock });
    let buf = '';
    const waiters: Array<() => boolean> = [];
    c.on('data', (d) => {
      buf += d.toString('utf8');
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        lines.push(buf.slice(0, nl).replace(/\r$/, ''));
        buf = buf.slice(nl + 1);
      }
      for (let i = waiters.length - 1; i >= 0; i--) if (waiters[i]!()) waiters.splice(i, 1);
    });
    c.on('error', () => {});
    const until = (cond: () => boolean, what: string) =>
      Promise.race([
        new Promise<void>((resolve) => (cond() ? resolve() : waiters.push(() => (cond() ? (resolve(), true) : false)))),
        sleep(10_000).then(() => {
          throw new Error(`${name}: no ${what} within 10 s; got ${lines.length} lines`);
        }),
      ]);
    await until(() => lines.length >= 1, 'greeting');
    let n = 0;
    const ask = async (execute: string, args?: object) => {
      const id = `rec-${++n}`;
      c.write(`${JSON.stringify(args ? { execute, arguments: args, id } : { execute, id })}\n`);
      await until(() => lines.some((l) => l.includes(`"id": "${id}"`)), `reply to ${execute}`);
    };
    await ask('qmp_capabilities');
    await ask('query-status');
    await ask('query-blockstats');
    await ask('query-cpus-fast');
    await ask('query-stats-schemas');
    await ask('query-stats', { target: 'vm' });
    await ask('query-stats', { target: 'vcpu' });
    await ask('query-balloon');
    await ask('query-no-such-command');
    await ask('cont');
    await until(() => lines.some((l) => l.includes('"RESUME"')), 'RESUME');
    await ask('query-status');
    await ask('query-stats', { target: 'vcpu' });
    await ask('stop');
    await until(() => lines.some((l) => l.includes('"STOP"')), 'STOP');
    c.write('{"execute": "quit", "id": "rec-quit"}\n');
    await until(() => lines.some((l) => l.includes('"SHUTDOWN"')), 'SHUTDOWN');
    c.destroy();
    fs.mkdirSync(OUT, { recursive: true });
    fs.writeFileSync(path.join(OUT, `${name}.jsonl`), `${lines.join('\n')}\n`);
    process.stdout.write(`${name}: ${lines.length} lines, ${lines.reduce((s, l) => s + l.length + 1, 0)} bytes -> ${path.join(OUT, `${name}.jsonl`)}\n`);
  } finally {
    qemu.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

await record('qemu-tcg', ['-machine', 'pc,accel=tcg']);
try {
  fs.accessSync('/dev/kvm', fs.constants.R_OK | fs.constants.W_OK);
  await record('qemu-kvm', ['-machine', 'q35,accel=kvm', '-cpu', 'qemu64']);
} catch (err) {
  process.stdout.write(`qemu-kvm: not recorded (${(err as Error).message})\n`);
}
