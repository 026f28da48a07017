// The episode directory: created 0750 on a way no other user can change
// (src/util/safe-dir.ts), refused when it holds anything unless --force, and
// then only labtel's own files are removed (unlinked: a symlink is removed,
// never followed).
import fs from 'node:fs';
import path from 'node:path';
import { dirProblem, makeDirNoFollow } from '../util/safe-dir.js';
import { openNoFollow } from '../util/write-refusal.js';

/** What labtel writes into an episode directory (the forwarder's cursor and its temporary file included). */
const OWN_FILE = /^(episode\.json|summary\.json|telemetry-[a-z_]+\.jsonl|network(-\d{3,})?\.pcap|forward-cursor\.json(\.tmp)?|\.forward-cursor\.json\.\d+\.\d+\.tmp|report\.html)$/;

/** Why `output_dir` cannot be an episode directory (a symlink, not a directory, a way others can change), or null. `labtel check` shows it; run refuses. */
export const outputDirProblem = (outputDir: string): string | null => dirProblem(outputDir, 'output_dir');

export function prepareEpisodeDir(dir: string, force: boolean): void {
  dir = path.resolve(dir);
  makeDirNoFollow(dir, 'output_dir');
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
