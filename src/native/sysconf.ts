// Page size and clock ticks per second, from the addon's sysconf() or, on the
// pure-TS path, from getconf(1) once; Linux's usual values if even that fails.
import { execFileSync } from 'node:child_process';
import { nativeAddon } from './addon.js';

export interface Sysconf {
  pageSize: number;
  clockTicks: number;
  source: 'native' | 'getconf' | 'assumed';
}

let cached: Sysconf | undefined;

function getconf(name: string): number {
  const out = execFileSync('getconf', [name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const n = Number(out.trim());
  if (!Number.isInteger(n) || n <= 0) throw new Error(`getconf ${name} printed ${JSON.stringify(out)}`);
  return n;
}

export function sysconf(): Sysconf {
  if (cached) return cached;
  const addon = nativeAddon();
  if (addon) {
    cached = { ...addon.sysconf(), source: 'native' };
  } else {
    try {
      cached = { pageSize: getconf('PAGESIZE'), clockTicks: getconf('CLK_TCK'), source: 'getconf' };
    } catch {
      cached = { pageSize: 4096, clockTicks: 100, source: 'assumed' };
    }
  }
  return cached;
}
