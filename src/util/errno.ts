import os from 'node:os';

const NAMES = new Map<number, string>(Object.entries(os.constants.errno).map(([k, v]) => [v, k]));

/** ENOENT for 2, and so on; errno N for what this platform does not name. */
export function errnoName(n: number): string {
  return NAMES.get(n) ?? `errno ${n}`;
}
