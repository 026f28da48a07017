// Benchmark (not a test): what one qmp poll costs when libvirtd holds QEMU's
// monitor, beside the same poll on a QMP socket of the same QEMU, and beside
// the obvious alternative, a `virsh qemu-monitor-command` process per
// command. A transient, paused TCG domain this script makes (destroyed at
// the end) has a QMP socket of its own beside libvirt's monitor. Each path
// runs the qmp collector's poll (pollQemu) N times back to back, its asking
// schedule on a clock that advances 1 s per poll (what interval_ms 1000
// asks); CPU is counted wherever the path spends it: this process
// (process.cpuUsage), virsh (its /proc stat while it runs, or the reaped
// children's in /proc/self/stat), libvirtd and QEMU (their /proc stat).
// stdout: the markdown section of BENCHMARKS.md; stderr: progress and JSON.
//
//   sudo npm run bench:libvirt        (root; a libvirtd: scripts/start-libvirtd.sh)
//
// Environment: BENCH_POLLS (300; BENCH_QUICK=1: 40).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { newPollState, pollQemu } from '../../src/collectors/qmp/poll.js';
import { startProbeDomain } from '../../src/lab/libvirt-probe-domain.js';
import { DEFAULT_LIBVIRT_URI } from '../../src/libvirt/ref.js';
import { viaLibvirt } from '../../src/libvirt/virsh-qmp-link.js';
import { QmpClient } from '../../src/qmp/client.js';
import { commandLine, intEnv, log, machine, mdTable, printSection, versionOf } from './section.js';

const POLLS = intEnv('BENCH_POLLS', 300, 40);
const WARMUP = 5;
const URI = DEFAULT_LIBVIRT_URI;
const TICK_S = 1 / 100; // USER_HZ here: /proc stat counts in these

/** utime + stime of a process, seconds; cutime + cstime too when `children`. */
function cpuOf(pid: number, children = false): number {
  const s = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(f[11]) + Number(f[12]) + (children ? Number(f[13]) + Number(f[14]) : 0);
  return ticks * TICK_S;
}
const selfCpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
/** This process's children: the virsh processes a link runs. */
function childPids(): number[] {
  const out: number[] = [];
  for (const t of fs.readdirSync('/proc/self/task')) {
    try {
      for (const p of fs.readFileSync(`/proc/self/task/${t}/children`, 'latin1').trim().split(/\s+/)) if (p) out.push(Number(p));
    } catch {
      // a thread that ended
    }
  }
  return out;
}
/** Children and their children (setpriv execs virsh in place; the shell's pid is virsh's). */
const virshCpu = (): number => childPids().reduce((a, p) => a + (fs.existsSync(`/proc/${p}`) ? cpuOf(p) : 0), 0);

/** "libvirt 9.0.0", as virsh version says of the library. */
const libvirtVersion = (): string => /Using library: (.*)/.exec(spawnSync('virsh', ['-c', URI, 'version'], { encoding: 'utf8' }).stdout)?.[1] ?? 'libvirt (version unknown)';

function libvirtdPid(): number {
  const r = spawnSync('pgrep', ['-xo', 'libvirtd'], { encoding: 'utf8' });
  const pid = Number(r.stdout.trim());
  if (!pid) throw new Error('no libvirtd runs here (as root: bash scripts/start-libvirtd.sh)');
  return pid;
}

interface Measured {
  polls: number;
  commands: number;
  wallMs: number;
  labtel: number;
  virsh: number;
  libvirtd: number;
  qemu: number;
}

const perPoll = (m: Measured, k: keyof Measured) => ((m[k] as number) / m.polls) * 1e6; // µs

async function main() {
  const m = machine();
  const d = await startProbeDomain({ prefix: 'labtel-bench-' });
  const { name, qmp } = d;
  try {
    const qemuPid = d.pid;
    const lvd = libvirtdPid();

    /** N polls on `c`, the schedule on a clock that moves 1 s per poll; what each poll asked, for the per-command path. */
    async function polls(c: QmpClient, throughLibvirt: boolean, asked: Array<{ execute: string; arguments?: object }>): Promise<Measured> {
      let now = 0;
      const st = newPollState({ intervalMs: 1000, nowMs: () => now, throughLibvirt });
      const exec = c.execute.bind(c);
      let recording = false;
      let commands = 0;
      c.execute = ((command: string, args?: object, t?: { ms: number; message: string }) => {
        commands++;
        if (recording) asked.push(args ? { execute: command, arguments: args } : { execute: command });
        return exec(command, args, t);
      }) as typeof c.execute;
      for (let i = 0; i < WARMUP; i++, now += 1000) await pollQemu(c, st, { ms: 5000 });
      commands = 0;
      const [l0, v0, d0, q0, t0] = [selfCpu(), virshCpu(), cpuOf(lvd), cpuOf(qemuPid), performance.now()];
      for (let i = 0; i < POLLS; i++, now += 1000) {
        recording = i === 0;
        await pollQemu(c, st, { ms: 5000 });
      }
      const [v1, d1, q1] = [virshCpu(), cpuOf(lvd), cpuOf(qemuPid)];
      return { polls: POLLS, commands, wallMs: performance.now() - t0, labtel: selfCpu() - l0, virsh: v1 - v0, libvirtd: d1 - d0, qemu: q1 - q0 };
    }

    log(`direct socket: ${POLLS} polls`);
    const asked: Array<{ execute: string; arguments?: object }> = [];
    const direct = await QmpClient.connect({ path: qmp, commandTimeoutMs: 5000 });
    const a = await polls(direct, false, []);
    direct.close();

    log(`through libvirt (one virsh shell): ${POLLS} polls`);
    const via = await QmpClient.connect({ link: viaLibvirt({ domain: name, uri: URI }), commandTimeoutMs: 5000 });
    const b = await polls(via, true, asked);
    via.close();
    await sleep(200);

    // The alternative: each command of a poll (as the first measured poll asked them) a virsh process of its own.
    const perCommand = Math.max(1, Math.round(POLLS / 10));
    log(`a virsh process per command: ${perCommand} polls of ${asked.length} commands`);
    const [l0, c0, d0, q0, t0] = [selfCpu(), cpuOf(process.pid, true) - cpuOf(process.pid), cpuOf(lvd), cpuOf(qemuPid), performance.now()];
    for (let i = 0; i < perCommand; i++) {
      for (const cmd of asked) spawnSync('virsh', ['-q', '-c', URI, 'qemu-monitor-command', name, JSON.stringify(cmd)], { stdio: 'ignore' });
    }
    const c: Measured = {
      polls: perCommand,
      commands: perCommand * asked.length,
      wallMs: performance.now() - t0,
      labtel: selfCpu() - l0,
      virsh: cpuOf(process.pid, true) - cpuOf(process.pid) - c0,
      libvirtd: cpuOf(lvd) - d0,
      qemu: cpuOf(qemuPid) - q0,
    };
    const total = (x: Measured) => perPoll(x, 'labtel') + perPoll(x, 'virsh') + perPoll(x, 'libvirtd') + perPoll(x, 'qemu');
    const row = (label: string, x: Measured): string[] => [
      label,
      (x.commands / x.polls).toFixed(2),
      (x.wallMs / x.polls).toFixed(2),
      perPoll(x, 'labtel').toFixed(0),
      perPoll(x, 'virsh').toFixed(0),
      perPoll(x, 'libvirtd').toFixed(0),
      perPoll(x, 'qemu').toFixed(0),
      `**${total(x).toFixed(0)}**`,
      `${((total(x) / 1e6) * 100).toFixed(2)}%`,
    ];
    printSection(
      {
        title: 'QMP through libvirt: the cost of a poll',
        command: commandLine('bench:libvirt', ['BENCH_POLLS']),
        machine: m,
        body: [
          `Target: a transient, paused TCG domain this script makes (src/lab/libvirt-probe-domain.ts: 2 vCPUs, a virtio disk, a balloon with \`<stats period='1'/>\`), with a QMP socket of its own beside libvirt's monitor; ${libvirtVersion()}, ${versionOf('qemu-system-x86_64') ?? 'QEMU'}. Each path runs the qmp collector's poll ${POLLS} times back to back after ${WARMUP} warm-up polls (the alternative: ${c.polls} polls), its asking schedule on a clock that moves 1 s per poll, as \`interval_ms: 1000\` asks. CPU per poll in µs, counted where it is spent: labtel (this process), virsh, libvirtd, QEMU (their /proc stat, 10 ms ticks: totals over the whole run, divided).`,
          mdTable(
            ['path', 'commands per poll', 'wall ms per poll', 'labtel µs', 'virsh µs', 'libvirtd µs', 'QEMU µs', 'total CPU µs per poll', 'of one core at 1 poll/s'],
            [
              row('direct QMP socket (`collectors.qmp.socket`)', a),
              row('labtel through libvirt: one `virsh` shell, commands on its stdin', b),
              row('a `virsh qemu-monitor-command` process per command', c),
            ],
          ),
          `Through libvirt, a poll costs ${(total(b) / total(a)).toFixed(1)}x the direct socket's CPU, and a virsh process per command would cost ${(total(c) / total(b)).toFixed(1)}x labtel's way. The commands of a poll: ${asked.map((x) => x.execute).join(', ')}.`,
        ],
      },
      { direct: a, libvirt: b, per_command: c, asked: asked.map((x) => x.execute) },
    );
  } finally {
    d.destroy();
  }
}

await main();
