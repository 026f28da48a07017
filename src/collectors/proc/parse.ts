// The pure-TS twin of native/core/proc_parse.cc, written as a direct port
// (same tokenizer, same rules) so both paths give the same rows even on
// hostile text: a file judged unparseable fills none of its fields, a number
// glued to junk is malformed as a whole, and nothing wraps past 64 bits.
import { F } from './fields.js';

const ULLONG_MAX = 18446744073709551615n;
const isDigit = (c: number) => c >= 48 && c <= 57;
const isSep = (c: number) => c === 32 || c === 9 || c === 10;

/** A decimal token at s[i]: [value or NaN, index after it (i when NaN)]. */
function readNum(s: string, i: number, end: number): [number, number] {
  let p = i;
  let neg = false;
  if (p < end && s.charCodeAt(p) === 45) { neg = true; p++; }
  if (p >= end || !isDigit(s.charCodeAt(p))) return [NaN, i];
  const start = p;
  while (p < end && isDigit(s.charCodeAt(p))) {
    if (p - start >= 20) return [NaN, i];
    p++;
  }
  if (p < end && !isSep(s.charCodeAt(p))) return [NaN, i];
  const digits = s.slice(start, p);
  if (digits.length === 20 && BigInt(digits) > ULLONG_MAX) return [NaN, i];
  const x = Number(digits);
  return [neg ? -x : x, p];
}

function skipToken(s: string, p: number, end: number): number {
  while (p < end && !isSep(s.charCodeAt(p))) p++;
  return p;
}

function skipSpaces(s: string, p: number, end: number): number {
  while (p < end && (s.charCodeAt(p) === 32 || s.charCodeAt(p) === 9)) p++;
  return p;
}

/** The number after `key` at the start of a line, scaled; NaN when absent or malformed. */
function lineValue(s: string, key: string, scale: number): number {
  let line = 0;
  while (line < s.length) {
    const nl = s.indexOf('\n', line);
    const le = nl < 0 ? s.length : nl;
    if (le - line > key.length && s.startsWith(key, line)) {
      const [v] = readNum(s, skipSpaces(s, line + key.length, le), le);
      return v * scale;
    }
    if (nl < 0) break;
    line = nl + 1;
  }
  return NaN;
}

const STAT_FIELDS = [F.cpu_user_jiffies, F.cpu_sys_jiffies, F.minflt, F.majflt, F.num_threads, F.starttime, F.vsize_bytes, F.state, F.processor] as const;
const STAT_POSITION: Record<number, number> = {
  10: F.minflt, 12: F.majflt, 14: F.cpu_user_jiffies, 15: F.cpu_sys_jiffies,
  20: F.num_threads, 22: F.starttime, 23: F.vsize_bytes, 39: F.processor,
};

/** Fills the stat fields of v; returns comm, or null when the text is not a stat line. */
export function parseStat(s: string, v: Float64Array): string | null {
  for (const f of STAT_FIELDS) v[f] = NaN;
  const open = s.indexOf('(');
  const close = s.lastIndexOf(')');
  if (open < 0 || close <= open) return null;
  const end = s.length;
  const got = new Map<number, number>();
  let q = close + 1;
  let field = 3;
  while (q < end && field <= 39) {
    q = skipSpaces(s, q, end);
    if (q >= end || s.charCodeAt(q) === 10) break;
    if (field === 3) {
      got.set(F.state, s.charCodeAt(q) & 0xff);
      q = skipToken(s, q, end);
    } else {
      const [x, next] = readNum(s, q, end);
      q = Number.isNaN(x) ? skipToken(s, q, end) : next;
      const at = STAT_POSITION[field];
      if (at !== undefined) got.set(at, x);
    }
    field++;
  }
  if (field <= 22) return null;
  for (const [f, x] of got) v[f] = x;
  return s.slice(open + 1, close);
}

/** One numeric field of a stat line by its number (4 and up: after the comm), walked as parseStat walks it; NaN when absent or malformed. */
export function statNumber(s: string, field: number): number {
  const close = s.lastIndexOf(')');
  if (field < 4 || s.indexOf('(') < 0 || close < 0) return NaN;
  const end = s.length;
  let q = close + 1;
  for (let f = 3; q < end; f++) {
    q = skipSpaces(s, q, end);
    if (q >= end || s.charCodeAt(q) === 10) break;
    if (f === field) return readNum(s, q, end)[0];
    q = skipToken(s, q, end);
  }
  return NaN;
}

export function parseStatm(s: string, pageSize: number, v: Float64Array): boolean {
  v[F.rss_bytes] = v[F.shared_bytes] = v[F.text_bytes] = v[F.data_bytes] = NaN;
  const f: number[] = [];
  let q = 0;
  for (let i = 0; i < 7; i++) {
    const [x, next] = readNum(s, skipSpaces(s, q, s.length), s.length);
    if (Number.isNaN(x)) return false;
    f.push(x);
    q = next;
  }
  v[F.rss_bytes] = f[1]! * pageSize;
  v[F.shared_bytes] = f[2]! * pageSize;
  v[F.text_bytes] = f[3]! * pageSize;
  v[F.data_bytes] = f[5]! * pageSize;
  return true;
}

export function parseStatus(s: string, v: Float64Array): boolean {
  const hwm = lineValue(s, 'VmHWM:', 1024);
  const swap = lineValue(s, 'VmSwap:', 1024);
  const vol = lineValue(s, 'voluntary_ctxt_switches:', 1);
  const nonvol = lineValue(s, 'nonvoluntary_ctxt_switches:', 1);
  const ok = !Number.isNaN(vol) || !Number.isNaN(nonvol);
  v[F.rss_peak_bytes] = ok ? hwm : NaN;
  v[F.swap_bytes] = ok ? swap : NaN;
  v[F.voluntary_ctxt_switches] = ok ? vol : NaN;
  v[F.nonvoluntary_ctxt_switches] = ok ? nonvol : NaN;
  return ok;
}

export function parseIo(s: string, v: Float64Array): boolean {
  const rchar = lineValue(s, 'rchar:', 1);
  const ok = !Number.isNaN(rchar);
  v[F.io_rchar] = rchar;
  v[F.io_wchar] = ok ? lineValue(s, 'wchar:', 1) : NaN;
  v[F.io_read_bytes] = ok ? lineValue(s, 'read_bytes:', 1) : NaN;
  v[F.io_write_bytes] = ok ? lineValue(s, 'write_bytes:', 1) : NaN;
  return ok;
}

export interface SchedStat {
  cpu_time_ns: number;
  run_delay_ns: number;
  run_periods: number;
}

/**
 * task/<tid>/schedstat, "%llu %llu %lu\n" as the kernel prints it: exactly three
 * unsigned integers of 1 to 20 digits (leading zeros allowed), each at most
 * 2^64 - 1, single spaces between, one final '\n'; null for anything else.
 * Each value is the exact integer rounded to the nearest double, ties to even,
 * as native/core/proc_parse.cc's static_cast<double> of the uint64 does.
 */
export function parseSchedstat(s: string): SchedStat | null {
  const f: number[] = [];
  let p = 0;
  for (let i = 0; i < 3; i++) {
    const start = p;
    while (p < s.length && isDigit(s.charCodeAt(p))) {
      if (p - start === 20) return null;
      p++;
    }
    if (p === start || p >= s.length || s.charCodeAt(p) !== (i < 2 ? 32 : 10)) return null;
    const digits = s.slice(start, p);
    if (digits.length <= 15) {
      f.push(Number(digits)); // below 2^53: exact
    } else {
      const big = BigInt(digits);
      if (big > ULLONG_MAX) return null;
      f.push(Number(big)); // the nearest double, ties to even
    }
    p++;
  }
  if (p !== s.length) return null;
  return { cpu_time_ns: f[0]!, run_delay_ns: f[1]!, run_periods: f[2]! };
}
