// Small checks on what QEMU sent, shared by the queries of one poll: QEMU is
// a peer that may be hostile, so a value is taken only when its type is right.
import { QapiError } from '../../util/qapi-error.js';

export const dict = <T>(): Record<string, T> => Object.create(null) as Record<string, T>;
/** The objects of a list QEMU sent (anything else in it, or a non-list, is skipped). */
export const objects = (v: unknown): object[] => (Array.isArray(v) ? v.filter((x): x is object => typeof x === 'object' && x !== null && !Array.isArray(x)) : []);
export const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
/** What QEMU sent, short enough for a reason (at most 60 characters). */
export const short = (v: unknown): string => {
  // A number past what a double holds (1e400) parses as Infinity, which JSON.stringify would call null.
  const s = typeof v === 'number' && !Number.isFinite(v) ? `${v} (a number past what a double holds)` : typeof v === 'string' && v.length > 60 ? JSON.stringify(v.slice(0, 60)) : (JSON.stringify(v) ?? String(v));
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
};
/** A plain object QEMU sent (not null, not a list). */
export const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
/** The own property `k` of an object QEMU sent (never its prototype's). */
export const own = (o: Record<string, unknown>, k: string): unknown => (Object.hasOwn(o, k) ? o[k] : undefined);

/** Why a command failed, for null_reasons: QEMU's answer (class and description, cut), or the client's reason (a timeout, a lost connection). */
export const failure = (command: string, err: unknown): string =>
  err instanceof QapiError ? `${command}: QEMU answered ${err.errorClass.slice(0, 64)}: ${err.desc.slice(0, 500)}` : String((err as Error)?.message ?? err).slice(0, 600);
