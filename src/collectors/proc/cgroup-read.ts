// Reading a cgroup v2 directory's files into host_cgroup's values, each
// null with a reason where the file is absent, unreadable, cut or
// malformed. Reads are bounded: these files are a few hundred bytes.
import { type FileValues, parseFlatKeyed, parsePressure, parseSingle } from './cgroup-parse.js';
import { shownDir, whyAbsent } from './cgroup-path.js';
import { readBounded } from '../../util/read-bounded.js';

/** Bytes read of a cgroup file at most; past it the file is cut and not parsed. */
export const MAX_CGROUP_FILE = 4096;

/** Which field each key of each file fills, and the controller that writes it (null: the kernel keeps it in every cgroup). */
const FILES: ReadonlyArray<{ file: string; parse: (text: string, file: string) => FileValues; keys: ReadonlyArray<readonly [key: string, field: string, controller: string | null]> }> = [
  { file: 'cpu.pressure', parse: parsePressure, keys: [['some', 'cpu_pressure_some_total_us', null], ['full', 'cpu_pressure_full_total_us', null]] },
  { file: 'memory.pressure', parse: parsePressure, keys: [['some', 'memory_pressure_some_total_us', null], ['full', 'memory_pressure_full_total_us', null]] },
  { file: 'io.pressure', parse: parsePressure, keys: [['some', 'io_pressure_some_total_us', null], ['full', 'io_pressure_full_total_us', null]] },
  {
    file: 'cpu.stat',
    parse: parseFlatKeyed,
    keys: [
      ['usage_usec', 'cpu_usage_us', null],
      ['user_usec', 'cpu_user_us', null],
      ['system_usec', 'cpu_system_us', null],
      ['nr_periods', 'cpu_nr_periods', 'cpu'],
      ['nr_throttled', 'cpu_nr_throttled', 'cpu'],
      ['throttled_usec', 'cpu_throttled_us', 'cpu'],
    ],
  },
  { file: 'memory.current', parse: parseSingle, keys: [['value', 'memory_current_bytes', 'memory']] },
  {
    file: 'memory.events',
    parse: parseFlatKeyed,
    keys: [
      ['low', 'memory_events_low', 'memory'],
      ['high', 'memory_events_high', 'memory'],
      ['max', 'memory_events_max', 'memory'],
      ['oom', 'memory_events_oom', 'memory'],
      ['oom_kill', 'memory_events_oom_kill', 'memory'],
    ],
  },
];

/** host_cgroup's measured fields, in the row's order (held to the schema by test/collectors/proc/cgroup-rows.test.ts). */
export const CGROUP_VALUE_FIELDS: readonly string[] = FILES.flatMap((f) => f.keys.map(([, field]) => field));

/** Why `file`, read as `r`, gave nothing (for a read error). */
const readError = (file: string, code: string) => `${code} reading ${file}`;

/** What is known of the cgroup beyond its files, for the reasons of absent values. */
export interface CgroupContext {
  /** The cgroup is the hierarchy's root. */
  root: boolean;
  /** cgroup v1 hierarchies: controller -> mount point. */
  v1: Map<string, string>;
}

/** The values of the cgroup at `dir`, and the reason for each that is null. */
export function readCgroup(dir: string, ctx: CgroupContext): { values: Record<string, number | null>; reasons: Record<string, string> } {
  const values: Record<string, number | null> = {};
  const reasons: Record<string, string> = {};
  let controllers: string[] | { why: string } | undefined;
  const shown = shownDir(dir);
  const controllersOf = () => {
    if (controllers) return controllers;
    const r = readBounded(`${dir}/cgroup.controllers`, MAX_CGROUP_FILE);
    if ('code' in r) return (controllers = { why: `${readError(`${shown}/cgroup.controllers`, r.code)}` });
    if (r.cut || !/^[a-z_ ]*\n?$/.test(r.text)) return (controllers = { why: `${shown}/cgroup.controllers is malformed` });
    return (controllers = r.text.split(/\s+/).filter(Boolean));
  };
  const absent = (what: string, controller: string | null) => whyAbsent(what, controller, { root: ctx.root, controllers: controller === null ? [] : controllersOf(), v1: ctx.v1 });
  for (const { file, parse, keys } of FILES) {
    // `path` names the file in reasons (the directory cut to MAX_SHOWN_DIR).
    const path = `${shown}/${file}`;
    const r = readBounded(`${dir}/${file}`, MAX_CGROUP_FILE);
    let parsed: FileValues;
    if ('code' in r) {
      parsed = {
        why:
          r.code === 'ENOENT'
            ? file.endsWith('.pressure')
              ? `${path} is absent: this kernel keeps no pressure stall information (CONFIG_PSI off, or booted with psi=0)`
              : keys[0]![2] === null
                ? `${path} is absent`
                : absent(`${file} is absent`, keys[0]![2])
            : r.code === 'EOPNOTSUPP'
              ? `${readError(path, r.code)}: pressure stall information is off (psi=0, or this cgroup's cgroup.pressure is 0)`
              : readError(path, r.code),
      };
    } else if (r.cut) parsed = { why: `${path} is longer than ${MAX_CGROUP_FILE} bytes: cut, not parsed` };
    else parsed = parse(r.text, path);
    for (const [key, field, controller] of keys) {
      const v = 'why' in parsed ? parsed : (parsed.values.get(key) ?? null);
      if (typeof v === 'number') {
        values[field] = v;
        continue;
      }
      values[field] = null;
      if (v !== null) reasons[field] = v.why;
      else if (file.endsWith('.pressure')) reasons[field] = file === 'cpu.pressure' && key === 'full' ? `${file} has no "full" line (kernels before 5.13 keep none for cpu)` : `${file} has no "${key}" line`;
      else reasons[field] = absent(`${file} has no ${key}`, controller);
    }
  }
  return { values, reasons };
}
