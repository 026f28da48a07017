// What perf can do on this host: where it is, perf_event_paranoid, and which
// of the requested events it can count (one short `perf stat -e ... true`).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { which } from '../../util/which.js';
import { normalizeEvent, parsePerfLine } from './parse.js';

export interface PerfPreflight {
  perf: string | null;
  /** setpriv(1), which gives perf a parent-death signal. */
  setpriv: string | null;
  paranoid: number | null;
  /** Normalized event name → null when it counts, else why not. */
  events: Record<string, string | null>;
  error: string | null;
}

const cache = new Map<string, PerfPreflight>();

/** What the probe on the agent's thread found, for the worker (Availability.handoff): the events it asked about and the answer. */
export interface PerfHandoff {
  events: string[];
  preflight: PerfPreflight;
}

/** Takes the agent's preflight as this thread's own for those events (perfPreflight would run `perf stat` again to find the same). */
export function adoptPerfHandoff(h: unknown): void {
  const x = h as PerfHandoff | null | undefined;
  if (!x || !Array.isArray(x.events) || !x.preflight || typeof x.preflight !== 'object') return;
  cache.set(x.events.join(','), x.preflight);
}

export function perfPreflight(events: readonly string[]): PerfPreflight {
  const key = events.join(',');
  const hit = cache.get(key);
  if (hit) return hit;
  const perf = which('perf');
  let paranoid: number | null = null;
  try {
    paranoid = Number(fs.readFileSync('/proc/sys/kernel/perf_event_paranoid', 'utf8').trim());
  } catch {
    // stays null
  }
  const setpriv = which('setpriv');
  const r: PerfPreflight = { perf, setpriv, paranoid, events: {}, error: null };
  if (!perf) {
    r.error = 'perf is not installed (Debian: apt-get install linux-perf)';
  } else if (!setpriv) {
    r.error = 'setpriv is not installed (Debian: util-linux); without it perf could outlive the agent';
  } else {
    try {
      // With -j and no -I, perf writes one JSON line per event to stderr at exit.
      const out = execFileSync(perf, ['stat', '-j', '-e', events.join(','), '--log-fd', '1', 'true'], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
        timeout: 10_000,
      });
      for (const line of out.split('\n')) {
        const l = parsePerfLine(line.replace(/^\{/, '{"interval" : 0, '));
        if (l) r.events[l.event] = l.value === null ? l.reason : null;
      }
      for (const e of events) if (!(normalizeEvent(e) in r.events)) r.events[normalizeEvent(e)] = 'perf printed nothing for it';
      if (!Object.values(r.events).some((v) => v === null)) r.error = 'perf can count none of the requested events on this host';
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      r.error = `perf stat failed: ${(e.stderr ?? e.message).trim().split('\n').slice(0, 2).join(' ')}`;
    }
  }
  cache.set(key, r);
  return r;
}
