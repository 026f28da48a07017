// What every benchmark prints: one markdown section (title, the exact command,
// the machine line, the tables, the targets computed in the same run), so a
// section of BENCHMARKS.md is a copy of one run's stdout. Progress and the raw
// JSON go to stderr.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';

/** BENCH_QUICK=1: small sizes for developing the scripts; the section says so and is not for BENCHMARKS.md. */
export const QUICK = process.env.BENCH_QUICK === '1';

export const log = (...parts: unknown[]): void => {
  process.stderr.write(parts.map(String).join(' ') + '\n');
};

export function intEnv(name: string, full: number, quick: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return QUICK ? quick : full;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name}: expected a non-negative integer, got ${JSON.stringify(raw)}`);
  return n;
}

export interface Machine {
  cpu: string;
  cores: number;
  kernel: string;
  node: string;
  date: string;
  loadavg_1m: number;
}

export function machine(): Machine {
  let cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  try {
    const m = /^model name\s*:\s*(.*)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) cpu = m[1]!.trim();
  } catch {
    // os.cpus() it is
  }
  return {
    cpu,
    cores: os.availableParallelism(),
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    loadavg_1m: Math.round(os.loadavg()[0]! * 100) / 100,
  };
}

export const machineLine = (m: Machine): string =>
  `Machine: ${m.cpu}, ${m.cores} cores, ${m.kernel}, Node ${m.node}; run at ${m.date}, load average ${m.loadavg_1m} (1 min) at the start.`;

/** The version line of a program (first line of `prog --version`), or null. */
export function versionOf(prog: string, args: string[] = ['--version']): string | null {
  try {
    const out = execFileSync(prog, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return out.trim().split('\n')[0] ?? null;
  } catch {
    return null;
  }
}

/** The command as run: the npm script with every BENCH_* variable that was set in front. */
export function commandLine(npmScript: string, envNames: string[]): string {
  const set = ['BENCH_QUICK', ...envNames].filter((n) => process.env[n] !== undefined && process.env[n] !== '').map((n) => `${n}=${process.env[n]}`);
  return [...set, `npm run ${npmScript}`].join(' ');
}

export function mdTable(header: string[], rows: string[][]): string {
  const esc = (c: string) => c.replace(/\|/g, '\\|');
  return [
    `| ${header.map(esc).join(' | ')} |`,
    `|${header.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${r.map(esc).join(' | ')} |`),
  ].join('\n');
}

export interface Target {
  what: string;
  /** null: not judged in this run (the reason is in value). */
  pass: boolean | null;
  value: string;
}

export const targetLine = (t: Target): string =>
  `- ${t.what}: **${t.pass === null ? 'not judged' : t.pass ? 'met' : 'not met'}** (${t.value})`;

export interface Section {
  title: string;
  command: string;
  machine: Machine;
  /** Paragraphs and tables, in order. */
  body: string[];
  targets?: Target[];
}

export function renderSection(s: Section): string {
  const out = [`## ${s.title}${QUICK ? ' (BENCH_QUICK: reduced sizes, not for BENCHMARKS.md)' : ''}`, '', `Command: \`${s.command}\``, '', machineLine(s.machine), ''];
  for (const b of s.body) out.push(b, '');
  if (s.targets && s.targets.length > 0) {
    out.push('Targets, judged by the script in this run:', '', ...s.targets.map(targetLine), '');
  }
  return out.join('\n');
}

/** The section on stdout (what BENCHMARKS.md holds), the figures as JSON on stderr. */
export function printSection(s: Section, json: unknown): void {
  log(JSON.stringify(json));
  process.stdout.write(renderSection(s));
}

export const fmt = (x: number | null | undefined, digits = 2): string => (x === null || x === undefined || !Number.isFinite(x) ? '—' : x.toFixed(digits));
export const int = (x: number): string => Math.round(x).toLocaleString('en-US');
export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
