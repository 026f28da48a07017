// The episode directory: created 0750 (never through a symlink), refused
// when it holds anything unless --force, and then only labtel's own files
// are removed (unlinked: a symlink is removed, never followed).
import fs from 'node:fs';
import path from 'node:path';
import { DIR_MODE, makeDirNoFollow } from '../util/safe-file.js';
import { openNoFollow } from '../util/write-refusal.js';

/** What labtel writes into an episode directory (the forwarder's cursor and its temporary file included). */
const OWN_FILE = /^(episode\.json|summary\.json|telemetry-[a-z_]+\.jsonl|network(-\d{3,})?\.pcap|forward-cursor\.json(\.tmp)?|\.forward-cursor\.json\.\d+\.\d+\.tmp|report\.html)$/;

/** Why `output_dir` cannot be an episode directory (a symlink, or not a directory), or null. `labtel check` shows it; run refuses. */
export function outputDirProblem(outputDir: string): string | null {
  const dir = path.resolve(outputDir);
  let st: fs.Stats;
  try {
    st = fs.lstatSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null; // run creates it
    return `output_dir ${dir}: ${(err as Error).message}`;
  }
  if (st.isSymbolicLink()) {
    let to = '';
    try {
      to = ` (to ${fs.readlinkSync(dir)})`;
    } catch {
      // named without its target
    }
    return `output_dir ${dir} is a symlink${to}; labtel does not write through one: name the directory itself`;
  }
  if (!st.isDirectory()) return `output_dir ${dir} exists and is not a directory`;
  return null;
}

/** Takes group write and every bit for others off a directory labtel was given (never loosens it); through a descriptor, so no symlink is followed. */
function tighten(dir: string): void {
  const fd = fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY | fs.constants.O_NOFOLLOW);
  try {
    const st = fs.fstatSync(fd);
    if (st.uid === process.geteuid?.() && (st.mode & 0o7777 & ~DIR_MODE) !== 0) fs.fchmodSync(fd, st.mode & 0o7777 & DIR_MODE);
  } finally {
    fs.closeSync(fd);
  }
}

export function prepareEpisodeDir(dir: string, force: boolean): void {
  const problem = outputDirProblem(dir);
  if (problem) throw new Error(problem);
  makeDirNoFollow(dir, 'output_dir');
  tighten(dir);
  const entries = fs.readdirSync(dir, { withFileTypes: true });
  if (entries.length === 0) return;
  if (!force) {
    throw new Error(`episode directory ${dir} is not empty (${entries.length} entries); choose another output_dir or pass --force`);
  }
  // labtel writes only regular files: a symlink or a directory under one of its names is someone else's.
  const foreign = entries.filter((e) => !OWN_FILE.test(e.name) || !e.isFile()).map((e) => (e.isSymbolicLink() ? `${e.name} (a symlink)` : e.isFile() ? e.name : `${e.name} (not a file)`));
  if (foreign.length) {
    throw new Error(`episode directory ${dir} holds files labtel did not write (${foreign.slice(0, 3).join(', ')}); --force removes only labtel's own files`);
  }
  for (const e of entries) fs.unlinkSync(path.join(dir, e.name));
}

/** Writes a JSON file that must not exist yet (never through a symlink), durably, 0640. */
export function writeJsonExclusive(file: string, value: unknown): void {
  const fd = openNoFollow(file, 'create');
  try {
    fs.writeSync(fd, JSON.stringify(value, null, 2) + '\n');
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
