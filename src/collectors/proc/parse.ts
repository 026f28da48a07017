// The pure-TS twin of native/core/proc_parse.cc: same fields, same NaN for
// "absent or malformed", so both paths give the same rows.
import { F } from './fields.js';

const NUM = /^-?\d{1,20}$/;

function num(tok: string | undefined): number {
  if (tok === undefined || !NUM.test(tok)) return NaN;
  return Number(tok);
}

/** Fills the stat fields of v; returns comm, or null when the text is not a stat line. */
export function parseStat(text: string, v: Float64Array): string | null {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close <= open) return null;
  const rest = text.slice(close + 1).split('\n', 1)[0]!.trim().split(/[ \t]+/);
  // rest[0] is field 3 (state); field k is rest[k - 3].
  if (rest.length < 20 || rest[0] === '') return null;
  v[F.state] = rest[0]!.charCodeAt(0);
  v[F.minflt] = num(rest[7]);
  v[F.majflt] = num(rest[9]);
  v[F.cpu_user_jiffies] = num(rest[11]);
  v[F.cpu_sys_jiffies] = num(rest[12]);
  v[F.num_threads] = num(rest[17]);
  v[F.starttime] = num(rest[19]);
  v[F.vsize_bytes] = num(rest[20]);
  v[F.processor] = num(rest[36]);
  return text.slice(open + 1, close);
}

export function parseStatm(text: string, pageSize: number, v: Float64Array): boolean {
  const f = text.trim().split(/[ \t]+/, 7).map(num);
  if (f.length < 7 || f.some(Number.isNaN)) return false;
  v[F.rss_bytes] = f[1]! * pageSize;
  v[F.shared_bytes] = f[2]! * pageSize;
  v[F.text_bytes] = f[3]! * pageSize;
  v[F.data_bytes] = f[5]! * pageSize;
  return true;
}

function lineValue(text: string, key: string, scale: number): number {
  const nl = text.startsWith(key) ? -1 : text.indexOf('\n' + key);
  if (nl < 0 && !text.startsWith(key)) return NaN;
  const at = nl + 1;
  const end = text.indexOf('\n', at);
  const m = /^[ \t]*(-?\d+)/.exec(text.slice(at + key.length, end < 0 ? undefined : end));
  const x = m ? num(m[1]) : NaN;
  return x * scale;
}

export function parseStatus(text: string, v: Float64Array): boolean {
  v[F.rss_peak_bytes] = lineValue(text, 'VmHWM:', 1024);
  v[F.swap_bytes] = lineValue(text, 'VmSwap:', 1024);
  v[F.voluntary_ctxt_switches] = lineValue(text, 'voluntary_ctxt_switches:', 1);
  v[F.nonvoluntary_ctxt_switches] = lineValue(text, 'nonvoluntary_ctxt_switches:', 1);
  return !Number.isNaN(v[F.voluntary_ctxt_switches]!) || !Number.isNaN(v[F.nonvoluntary_ctxt_switches]!);
}

export function parseIo(text: string, v: Float64Array): boolean {
  v[F.io_rchar] = lineValue(text, 'rchar:', 1);
  v[F.io_wchar] = lineValue(text, 'wchar:', 1);
  v[F.io_read_bytes] = lineValue(text, 'read_bytes:', 1);
  v[F.io_write_bytes] = lineValue(text, 'write_bytes:', 1);
  return !Number.isNaN(v[F.io_rchar]!);
}
