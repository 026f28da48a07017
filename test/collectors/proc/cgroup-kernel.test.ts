// host_cgroup against the real kernel: a cgroup made under this host's cgroup v2 mount, real busy processes
// moved into it by writing cgroup.procs, and the proc loop with the cgroup sampler beside it, as the agent runs it.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EpisodeClock } from '../../../src/clock/origin.js';
import { CgroupSampler } from '../../../src/collectors/proc/cgroup-loop.js';
import { parseMountinfo } from '../../../src/collectors/proc/cgroup-parse.js';
import { procLoop } from '../../../src/collectors/proc/run-loop.js';
import { statNumber } from '../../../src/collectors/proc/parse.js';
import { JsonlWriter } from '../../../src/rows/jsonl-writer.js';
import { ROW_SCHEMAS } from '../../../src/rows/registry.js';
import { abortWhenRows, never, readJsonl, tmpDir } from '../../helpers/tmp.js';

type Row = Record<string, unknown>;
const MOUNT = parseMountinfo(fs.readFileSync('/proc/self/mountinfo', 'utf8')).v2;
const children: ChildProcess[] = [];
const made: string[] = [];

afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
  // A cgroup is removed once its processes are gone (a killed child may take a moment to be reaped).
  for (const dir of made.splice(0).reverse()) {
    for (let i = 0; i < 200 && fs.existsSync(dir); i++) {
      try {
        fs.rmdirSync(dir);
      } catch {
        sleepMs(10);
      }
    }
  }
});

/** A new cgroup under the v2 mount's root. */
function makeCgroup(): { dir: string; rel: string } {
  if (!MOUNT) throw new Error('this host has no cgroup v2 mount (no cgroup2 line in /proc/self/mountinfo): these tests need one');
  const name = `labtel-test-${crypto.randomBytes(4).toString('hex')}`;
  const dir = path.join(MOUNT.mountPoint, name);
  fs.mkdirSync(dir);
  made.push(dir);
  return { dir, rel: `/${name}` };
}

function start(cmd: string, args: string[]): ChildProcess {
  const c = spawn(cmd, args, { stdio: 'ignore' });
  children.push(c);
  return c;
}

/** The proc loop with the cgroup sampler beside it, as collector.ts runs them, until `signal`. */
async function run(pid: number, out: string, signal: AbortSignal, cgroupMs = 100): Promise<string> {
  const writer = new JsonlWriter(out, { availableInDeployment: true });
  const clock = new EpisodeClock(0);
  const cg = new CgroupSampler({ writer, clock, intervalMs: cgroupMs });
  try {
    const r = await procLoop({ pid, writer, clock, intervalMs: 20, signal, beside: (t) => cg.beside(t) });
    return r.end;
  } finally {
    cg.close();
    writer.close();
  }
}

const cgroupRows = (rows: Row[]) => rows.filter((r) => r.source === 'host_cgroup');
const reasons = (r: Row) => (r.null_reasons ?? {}) as Record<string, string>;
const ROOT = path.resolve(import.meta.dirname, '../../..');
const sleepMs = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
const starttimeOf = (pid: number) => statNumber(fs.readFileSync(`/proc/${pid}/stat`, 'latin1'), 22);

/** A script that runs the cgroup sampler once on pid argv[2], writing to argv[1] (for a sampler in other namespaces). */
const sampleOnce = `
  import { CgroupSampler } from ${JSON.stringify(path.join(ROOT, 'src/collectors/proc/cgroup-loop.ts'))};
  import { JsonlWriter } from ${JSON.stringify(path.join(ROOT, 'src/rows/jsonl-writer.ts'))};
  import { EpisodeClock } from ${JSON.stringify(path.join(ROOT, 'src/clock/origin.ts'))};
  const [out, pid] = process.argv.slice(1);
  const writer = new JsonlWriter(out, { availableInDeployment: true });
  const s = new CgroupSampler({ writer, clock: new EpisodeClock(0), intervalMs: 1000 });
  s.beside({ pid: Number(pid), starttime: null });
  s.close();
  writer.close();`;

/** The cgroup sampler driven by hand, each beside() call one proc sample (1 ms interval: due whenever called after a wait). */
function direct(out: string): { sampler: CgroupSampler; writer: JsonlWriter } {
  const writer = new JsonlWriter(out, { availableInDeployment: true });
  return { sampler: new CgroupSampler({ writer, clock: new EpisodeClock(0), intervalMs: 1 }), writer };
}

describe('host_cgroup on the real kernel', () => {
  it('reads a cgroup a real busy process was moved into: cpu_usage_us moves, the pressure totals are numbers and cpu some-pressure grows with two processes on one CPU', async () => {
    const { dir, rel } = makeCgroup();
    // Two busy loops pinned to one CPU: one of them is always waiting for it, which is cpu pressure.
    const a = start('taskset', ['-c', '0', 'sh', '-c', 'while :; do :; done']);
    const b = start('taskset', ['-c', '0', 'sh', '-c', 'while :; do :; done']);
    fs.writeFileSync(path.join(dir, 'cgroup.procs'), String(a.pid));
    fs.writeFileSync(path.join(dir, 'cgroup.procs'), String(b.pid));
    const out = path.join(tmpDir(), 'telemetry-proc.jsonl');
    const moved = (rows: Row[]) => {
      const cg = cgroupRows(rows).filter((r) => typeof r.cpu_usage_us === 'number');
      return cg.length >= 3 && (cg.at(-1)!.cpu_usage_us as number) > (cg[0]!.cpu_usage_us as number) && (cg.at(-1)!.cpu_pressure_some_total_us as number) > (cg[0]!.cpu_pressure_some_total_us as number);
    };
    await run(a.pid!, out, abortWhenRows(out, moved));
    const rows = cgroupRows(readJsonl(out));
    expect(rows.length).toBeGreaterThanOrEqual(3);
    for (const r of rows) {
      expect(() => ROW_SCHEMAS.host_cgroup!.parse(r)).not.toThrow();
      expect(r.cgroup_path).toBe(rel);
      expect(r.cgroup_mount).toBe(MOUNT!.mountPoint);
      expect(typeof r.cgroup_inode).toBe('number');
      for (const f of ['cpu_pressure_some_total_us', 'cpu_pressure_full_total_us', 'memory_pressure_some_total_us', 'memory_pressure_full_total_us', 'io_pressure_some_total_us', 'io_pressure_full_total_us', 'cpu_usage_us', 'cpu_user_us', 'cpu_system_us']) {
        expect(typeof r[f], `${f}: ${reasons(r)[f]}`).toBe('number');
      }
    }
    expect(rows[0]!.cgroup_event).toBe('started');
    // Shared with b (a's sibling in the cgroup), not the root.
    expect(rows.map((r) => [r.cgroup_root, r.cgroup_other_processes])).toEqual(rows.map(() => [false, 1]));
    expect(rows.slice(1).map((r) => r.cgroup_event)).toEqual(rows.slice(1).map(() => null));
    expect(rows[1]!.interval_s).toBeGreaterThan(0);
    const first = rows[0]!;
    const last = rows.at(-1)!;
    expect(last.cpu_usage_us as number).toBeGreaterThan(first.cpu_usage_us as number);
    expect(last.cpu_pressure_some_total_us as number).toBeGreaterThan(first.cpu_pressure_some_total_us as number);
    console.log(`cgroup ${rel}: cpu_usage_us ${first.cpu_usage_us} -> ${last.cpu_usage_us}, cpu some ${first.cpu_pressure_some_total_us} -> ${last.cpu_pressure_some_total_us} µs over ${rows.length} rows`);
    // Where a controller is not on v2 (this host: cpu and memory are on v1), the value is null and the reason says so.
    const controllers = fs.readFileSync(path.join(dir, 'cgroup.controllers'), 'utf8').split(/\s+/);
    if (!controllers.includes('cpu')) {
      expect(last.cpu_nr_throttled).toBeNull();
      expect(reasons(last).cpu_nr_throttled).toMatch(/^cpu\.stat has no nr_throttled: the cpu controller is not enabled for this cgroup/);
    } else expect(typeof last.cpu_nr_throttled).toBe('number');
    if (!controllers.includes('memory')) {
      expect(last.memory_current_bytes).toBeNull();
      expect(reasons(last).memory_current_bytes).toMatch(/^memory\.current is absent: the memory controller is not enabled for this cgroup/);
    } else expect(last.memory_current_bytes as number).toBeGreaterThan(0);
  });

  // Regression for: a target that moves itself keeps being read in the cgroup it started in (or its counters are
  // subtracted across the move). /proc/<pid>/cgroup is read again every interval and the row says 'moved'.
  it('follows a real process that moves itself into another cgroup mid-episode, and says so on the first row after the move', async () => {
    const one = makeCgroup();
    const two = makeCgroup();
    const flag = path.join(tmpDir(), 'move-now');
    const child = start('sh', ['-c', `echo $$ > ${one.dir}/cgroup.procs; while [ ! -e ${flag} ]; do sleep 0.02; done; echo $$ > ${two.dir}/cgroup.procs; while :; do sleep 1; done`]);
    const out = path.join(tmpDir(), 'telemetry-proc.jsonl');
    const signal = abortWhenRows(out, (rows) => {
      const cg = cgroupRows(rows);
      if (cg.filter((r) => r.cgroup_path === one.rel).length >= 2 && !fs.existsSync(flag)) fs.writeFileSync(flag, '');
      return cg.filter((r) => r.cgroup_path === two.rel).length >= 2;
    });
    await run(child.pid!, out, signal);
    const rows = cgroupRows(readJsonl(out)).filter((r) => r.cgroup_path !== '/'); // (before the shell moved itself into one)
    const at = rows.findIndex((r) => r.cgroup_path === two.rel);
    expect(at).toBeGreaterThanOrEqual(2);
    expect(rows.slice(0, at).map((r) => r.cgroup_path)).toEqual(rows.slice(0, at).map(() => one.rel)); // (at >= 2: not empty)
    expect(rows[at]!.cgroup_event).toBe('moved');
    expect(rows[at]!.interval_s).toBeNull();
    expect(reasons(rows[at]!).interval_s).toBe('first row after the cgroup_event (moved)');
    expect(rows[at]!.cgroup_inode).not.toBe(rows[at - 1]!.cgroup_inode);
    expect(rows[at + 1]!.cgroup_event).toBeNull();
    expect(rows[at + 1]!.interval_s).toBeGreaterThan(0);
  });

  // Regression for: a move away and back between two rows was invisible (the path was read only when a row was due), so
  // a row said A for values that spanned B's time too (the reviewer's hop.sh: 0.6 s in A, 0.3 s burning in B).
  it("says 'moved' on a row after the target hopped A -> B -> A between two rows (the path is checked at every proc sample)", () => {
    const a = makeCgroup();
    const b = makeCgroup();
    const child = start('sh', ['-c', 'while :; do sleep 1; done']);
    fs.writeFileSync(path.join(a.dir, 'cgroup.procs'), String(child.pid));
    const out = path.join(tmpDir(), 'telemetry-proc.jsonl');
    const writer = new JsonlWriter(out, { availableInDeployment: true });
    // The proc loop's samples at 0, 1, 2, 3, 4 s; a row is due every 2 s.
    let now = 0;
    const sampler = new CgroupSampler({ writer, clock: { now: () => now } as EpisodeClock, intervalMs: 2000 });
    const target = { pid: child.pid!, starttime: starttimeOf(child.pid!) };
    const at = (s: number) => ((now = s * 1e9), sampler.beside(target));
    at(0); // row: started, in A
    fs.writeFileSync(path.join(b.dir, 'cgroup.procs'), String(child.pid));
    at(1); // a proc sample, no row: in B
    fs.writeFileSync(path.join(a.dir, 'cgroup.procs'), String(child.pid));
    at(2); // row: back in A, but its values span B's time
    at(3);
    at(4); // row: A all along
    sampler.close();
    writer.close();
    const rows = cgroupRows(readJsonl(out));
    expect(rows.map((r) => [r.cgroup_path, r.cgroup_event])).toEqual([
      [a.rel, 'started'],
      [a.rel, 'moved'],
      [a.rel, null],
    ]);
    expect(rows[1]!.interval_s).toBeNull();
    expect(reasons(rows[1]!).interval_s).toBe('first row after the cgroup_event (moved)');
    expect(rows[2]!.interval_s).toBe(2);
  });

  // Regression for: a target in the root cgroup (the demo's QEMU was) whose rows gave the whole host's values as if its own.
  it("marks a target in the root cgroup (cgroup_root: the values are host-wide) and counts the root's other processes", () => {
    const child = start('sh', ['-c', 'while :; do sleep 1; done']);
    fs.writeFileSync(path.join(MOUNT!.mountPoint, 'cgroup.procs'), String(child.pid));
    const out = path.join(tmpDir(), 'telemetry-proc.jsonl');
    const { sampler, writer } = direct(out);
    sampler.beside({ pid: child.pid!, starttime: starttimeOf(child.pid!) });
    sampler.close();
    writer.close();
    const [row] = cgroupRows(readJsonl(out));
    expect(row!.cgroup_path).toBe('/');
    expect(row!.cgroup_root).toBe(true);
    const listed = fs.readFileSync(path.join(MOUNT!.mountPoint, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).length;
    expect(row!.cgroup_other_processes).toBeGreaterThan(0); // (this test's own vitest worker is there too, or elsewhere: some process is)
    expect(row!.cgroup_other_processes as number).toBeLessThanOrEqual(listed + 5);
    expect(() => ROW_SCHEMAS.host_cgroup!.parse(row)).not.toThrow();
  });

  // Regression for: a cgroup removed and made again under the same name has counters from 0; same path, another directory.
  it("says 'recreated' when the target's cgroup was removed and made again under the same path between two rows", () => {
    const one = makeCgroup();
    const other = makeCgroup();
    // One process (a shell's loop would leave its `sleep` in `one`, which then cannot be removed: EBUSY).
    const child = start('sleep', ['1000']);
    fs.writeFileSync(path.join(one.dir, 'cgroup.procs'), String(child.pid));
    const out = path.join(tmpDir(), 'telemetry-proc.jsonl');
    const { sampler, writer } = direct(out);
    const target = { pid: child.pid!, starttime: starttimeOf(child.pid!) };
    sampler.beside(target);
    // Between two rows: out to `other`, `one` removed and made again, back into it.
    fs.writeFileSync(path.join(other.dir, 'cgroup.procs'), String(child.pid));
    fs.rmdirSync(one.dir);
    fs.mkdirSync(one.dir);
    fs.writeFileSync(path.join(one.dir, 'cgroup.procs'), String(child.pid));
    sleepMs(3); // past the 1 ms interval
    sampler.beside(target);
    sleepMs(3);
    sampler.beside(target);
    sampler.close();
    writer.close();
    const rows = cgroupRows(readJsonl(out));
    expect(rows).toHaveLength(3);
    expect(rows.map((r) => r.cgroup_path)).toEqual([one.rel, one.rel, one.rel]);
    expect(rows.map((r) => r.cgroup_event)).toEqual(['started', 'recreated', null]);
    expect(rows[1]!.cgroup_inode).not.toBe(rows[0]!.cgroup_inode);
    expect(rows[1]!.interval_s).toBeNull();
    expect(rows[2]!.interval_s).toBeGreaterThan(0);
  });

  // Regression for: a pidfile target that came back as a new process is read as if it were the old one.
  it("says 'restarted' on the first row of a new target process (the proc loop followed a pidfile), read from the new process's cgroup", () => {
    const one = makeCgroup();
    const two = makeCgroup();
    const a = start('sh', ['-c', 'while :; do sleep 1; done']);
    const b = start('sh', ['-c', 'while :; do sleep 1; done']);
    fs.writeFileSync(path.join(one.dir, 'cgroup.procs'), String(a.pid));
    fs.writeFileSync(path.join(two.dir, 'cgroup.procs'), String(b.pid));
    const out = path.join(tmpDir(), 'telemetry-proc.jsonl');
    const { sampler, writer } = direct(out);
    sampler.beside({ pid: a.pid!, starttime: starttimeOf(a.pid!) });
    sampler.beside(null); // the proc loop saw the target exit
    sampler.beside({ pid: b.pid!, starttime: starttimeOf(b.pid!) });
    sampler.close();
    writer.close();
    const rows = cgroupRows(readJsonl(out));
    expect(rows.map((r) => [r.pid, r.cgroup_event, r.cgroup_path])).toEqual([
      [a.pid, 'started', one.rel],
      [a.pid, 'exited', null],
      [b.pid, 'restarted', two.rel],
    ]);
    expect(reasons(rows[2]!).interval_s).toBe('first row after the cgroup_event (restarted)');
    // The pidfile rewritten to another live process (the follower moved on with no exit between): restarted too.
    const out2 = path.join(tmpDir(), 'telemetry-proc.jsonl');
    const again = direct(out2);
    again.sampler.beside({ pid: a.pid!, starttime: starttimeOf(a.pid!) });
    again.sampler.beside({ pid: b.pid!, starttime: starttimeOf(b.pid!) });
    again.sampler.close();
    again.writer.close();
    expect(cgroupRows(readJsonl(out2)).map((r) => [r.pid, r.cgroup_event])).toEqual([
      [a.pid, 'started'],
      [b.pid, 'restarted'],
    ]);
  });

  // Regression for: a pid the target no longer holds (it exited, the pid was reused) read as the target's.
  it('does not read the cgroup of another process under the target\'s pid (its starttime differs)', () => {
    const { dir } = makeCgroup();
    const child = start('sh', ['-c', 'while :; do sleep 1; done']);
    fs.writeFileSync(path.join(dir, 'cgroup.procs'), String(child.pid));
    const out = path.join(tmpDir(), 'telemetry-proc.jsonl');
    const { sampler, writer } = direct(out);
    const real = starttimeOf(child.pid!);
    sampler.beside({ pid: child.pid!, starttime: real - 1 });
    sampler.close();
    writer.close();
    const [row] = cgroupRows(readJsonl(out));
    expect(row!.cgroup_path).toBeNull();
    expect(row!.cpu_usage_us).toBeNull();
    expect(reasons(row!).cpu_usage_us).toBe(`the target's cgroup is not known: /proc/${child.pid} is no longer the target (starttime ${real}, not ${real - 1}): it exited`);
  });

  // Regression for: a path the kernel gives relative to labtel's cgroup namespace ("/../<sibling>") followed out of it.
  it('does not follow a path that leaves the cgroup namespace labtel runs in ("/../<cgroup>", as the real kernel writes it)', async () => {
    const home = makeCgroup();
    const sibling = makeCgroup();
    const target = start('sh', ['-c', 'while :; do sleep 1; done']);
    fs.writeFileSync(path.join(sibling.dir, 'cgroup.procs'), String(target.pid));
    const out = path.join(tmpDir(), 'telemetry-proc.jsonl');
    // The sampler's process goes into `home`, then into a cgroup namespace rooted there: the target is outside it.
    const r = spawnSync('sh', ['-c', 'echo $$ > "$1/cgroup.procs" && exec unshare --cgroup "$2" --import tsx --input-type=module -e "$3" "$4" "$5"', 'sh', home.dir, process.execPath, sampleOnce, out, String(target.pid)], { cwd: ROOT, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const [row] = cgroupRows(readJsonl(out));
    expect(row!.cgroup_path).toBe(`/..${sibling.rel}`);
    expect(row!.cgroup_inode).toBeNull();
    expect(row!.cpu_pressure_some_total_us).toBeNull();
    expect(reasons(row!).cpu_pressure_some_total_us).toBe(`/proc/${target.pid}/cgroup names "/..${sibling.rel}", which leaves the cgroup v2 hierarchy labtel sees (a cgroup namespace's view, or a forged path): not followed`);
  });

  // What `labtel demo --vm` met: the agent under `ip netns exec`, which remounts /sys, had no cgroup2 mount to read.
  it("says so where labtel's mount namespace has no cgroup2 mount (the path is still read)", () => {
    const { dir, rel } = makeCgroup();
    const target = start('sh', ['-c', 'while :; do sleep 1; done']);
    fs.writeFileSync(path.join(dir, 'cgroup.procs'), String(target.pid));
    const out = path.join(tmpDir(), 'telemetry-proc.jsonl');
    // A mount namespace of its own with the cgroup2 mount taken away, as ip netns exec's remount of /sys does.
    const r = spawnSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', 'umount -l "$1" && ! grep -q " - cgroup2 " /proc/self/mountinfo && exec "$2" --import tsx --input-type=module -e "$3" "$4" "$5"', 'sh', MOUNT!.mountPoint, process.execPath, sampleOnce, out, String(target.pid)], { cwd: ROOT, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const [row] = cgroupRows(readJsonl(out));
    expect(row!.cgroup_path).toBe(rel);
    expect(row!.cgroup_mount).toBeNull();
    expect(row!.cpu_pressure_some_total_us).toBeNull();
    expect(reasons(row!).cpu_pressure_some_total_us).toBe("no cgroup v2 hierarchy is mounted in labtel's mount namespace (/proc/self/mountinfo has no cgroup2 line)");
    expect(reasons(row!).cgroup_mount).toBe(reasons(row!).cpu_pressure_some_total_us);
    expect(() => ROW_SCHEMAS.host_cgroup!.parse(row)).not.toThrow();
  });

  it("writes an 'exited' row when the target exits, and ends with the proc loop", async () => {
    const { dir } = makeCgroup();
    const child = start('sh', ['-c', `echo $$ > ${dir}/cgroup.procs; while :; do sleep 1; done`]);
    const out = path.join(tmpDir(), 'telemetry-proc.jsonl');
    let killed = false;
    abortWhenRows(out, (rows) => {
      if (!killed && cgroupRows(rows).length >= 2) (killed = true), child.kill('SIGKILL');
      return killed;
    });
    expect(await run(child.pid!, out, never())).toBe('target_exited');
    const rows = cgroupRows(readJsonl(out));
    const last = rows.at(-1)!;
    expect(last.cgroup_event).toBe('exited');
    expect(last.pid).toBe(child.pid);
    expect(last.cpu_usage_us).toBeNull();
    expect(reasons(last).cpu_usage_us).toBe('the target process exited');
    expect(() => ROW_SCHEMAS.host_cgroup!.parse(last)).not.toThrow();
    expect(rows.filter((r) => r.cgroup_event === 'exited')).toHaveLength(1);
  });
});
