// Strict parsers for the cgroup v2 files host_cgroup rows are read from, and
// for the lines of /proc/self/mountinfo and /proc/<pid>/cgroup that say
// where they are. Pure: text in, values or the reason there are none out.
// A line that is not what the kernel writes makes the whole file's values
// null, with a reason naming the file and the line.

/** A value, or why there is none. */
export type Value = number | { why: string };
/** A file's values by key, or why the file gave none. */
export type FileValues = { values: Map<string, Value> } | { why: string };

const DIGITS = /^\d{1,20}$/;
const MAX_QUOTED = 120;

/** Text from a file, quoted for a reason: JSON, cut to MAX_QUOTED characters. */
export const quote = (s: string): string => JSON.stringify(s.length > MAX_QUOTED ? `${s.slice(0, MAX_QUOTED)}...` : s);

/** A decimal counter: exact up to 2^53, refused past it (a u64 the kernel wrote, which a double would round). */
export function counterOf(digits: string, what: string): Value {
  if (!DIGITS.test(digits)) return { why: `${what} is ${quote(digits)}, not a decimal count` };
  const n = Number(digits);
  if (!Number.isSafeInteger(n)) return { why: `${what} is ${digits}, past 2^53: not exact as a number` };
  return n;
}

/** The lines of a kernel file, each ended by a newline; null when the last has none (the file is not what the kernel writes). */
function linesOf(text: string): string[] | null {
  if (text === '') return [];
  if (!text.endsWith('\n')) return null;
  return text.slice(0, -1).split('\n');
}

const notEnded = (file: string) => ({ why: `malformed ${file}: its last line has no newline` });

const PRESSURE = /^(some|full) avg10=\d+\.\d\d avg60=\d+\.\d\d avg300=\d+\.\d\d total=(\d+)$/;

/** A *.pressure file (PSI): the total= of its "some" and "full" lines, µs, by "some" and "full". */
export function parsePressure(text: string, file: string): FileValues {
  const lines = linesOf(text);
  if (!lines) return notEnded(file);
  const values = new Map<string, Value>();
  for (let i = 0; i < lines.length; i++) {
    const m = PRESSURE.exec(lines[i]!);
    if (!m) return { why: `malformed ${file}: line ${i + 1} is ${quote(lines[i]!)}, not "some|full avg10=.. avg60=.. avg300=.. total=N"` };
    if (values.has(m[1]!)) return { why: `malformed ${file}: two "${m[1]}" lines` };
    values.set(m[1]!, counterOf(m[2]!, `total= of the "${m[1]}" line of ${file}`));
  }
  return { values };
}

const FLAT = /^([a-z_][a-z0-9_]*) (\S+)$/;

/** A flat keyed file ("key value" per line: cpu.stat, memory.events). */
export function parseFlatKeyed(text: string, file: string): FileValues {
  const lines = linesOf(text);
  if (!lines) return notEnded(file);
  const values = new Map<string, Value>();
  for (let i = 0; i < lines.length; i++) {
    const m = FLAT.exec(lines[i]!);
    if (!m) return { why: `malformed ${file}: line ${i + 1} is ${quote(lines[i]!)}, not "key value"` };
    if (values.has(m[1]!)) return { why: `malformed ${file}: two "${m[1]}" lines` };
    values.set(m[1]!, counterOf(m[2]!, `${m[1]} in ${file}`));
  }
  return { values };
}

/** A single-value file (memory.current): its number, under the key "value". */
export function parseSingle(text: string, file: string): FileValues {
  const lines = linesOf(text);
  if (!lines) return notEnded(file);
  if (lines.length !== 1) return { why: `malformed ${file}: ${lines.length} lines where one number was expected` };
  const v = counterOf(lines[0]!, file);
  return typeof v === 'number' ? { values: new Map([['value', v]]) } : { why: `malformed ${file}: ${v.why}` };
}

const CGROUP_LINE = /^(\d+):([^:]*):(.*)$/;

/**
 * The path of the "0::" line (cgroup v2) of a /proc/<pid>/cgroup, as written (it may name a cgroup outside the
 * mount, "/../..", seen from another cgroup namespace: cgroup-path.ts decides whether to follow it). `cut`: the
 * read stopped at its bound, so the last line may be partial and is not read.
 */
export function parseProcCgroup(text: string, file: string, cut: boolean): { path: string } | { why: string } {
  const lines = text.split('\n');
  const last = lines.pop()!; // '' when the text ends with its newline
  if (last !== '' && !cut) return notEnded(file);
  let path: string | null = null;
  for (let i = 0; i < lines.length; i++) {
    const m = CGROUP_LINE.exec(lines[i]!);
    if (!m || !m[3]!.startsWith('/')) return { why: `malformed ${file}: line ${i + 1} is ${quote(lines[i]!)}, not "id:controllers:/path"` };
    if (m[1] !== '0' || m[2] !== '') continue;
    if (path !== null) return { why: `malformed ${file}: two "0::" lines` };
    path = m[3]!;
  }
  if (path !== null) return { path };
  if (cut) return { why: `${file} is longer than labtel reads of it: cut before its "0::" line` };
  return { why: `${file} has no "0::" line: the process is in no cgroup v2 hierarchy (none is mounted, or the kernel has none)` };
}

export interface CgroupMounts {
  /** The cgroup v2 mount: where, and which cgroup is its root (not "/" for a bind mount of a subtree, or one made in a cgroup namespace). */
  v2: { mountPoint: string; root: string } | null;
  /** cgroup v1 hierarchies: controller (or name=...) -> where mounted. */
  v1: Map<string, string>;
}

/** mountinfo's escapes (\040 for a space, \011, \012, \134). */
const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

/** The cgroup mounts /proc/self/mountinfo lists: the first cgroup2 mount of the hierarchy's root (else the first cgroup2 mount), and the v1 ones. */
export function parseMountinfo(text: string): CgroupMounts {
  const v1 = new Map<string, string>();
  let v2: CgroupMounts['v2'] = null;
  for (const line of text.split('\n')) {
    const dash = line.indexOf(' - ');
    if (dash < 0) continue;
    const head = line.slice(0, dash).split(' ');
    const tail = line.slice(dash + 3).split(' ');
    if (head.length < 6 || tail.length < 3) continue;
    const root = unescape(head[3]!);
    const mountPoint = unescape(head[4]!);
    if (tail[0] === 'cgroup2') {
      if (!v2 || (v2.root !== '/' && root === '/')) v2 = { mountPoint, root };
    } else if (tail[0] === 'cgroup') {
      for (const opt of tail[2]!.split(',')) if (!v1.has(opt)) v1.set(opt, mountPoint);
    }
  }
  return { v2, v1 };
}
