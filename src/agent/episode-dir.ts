// The episode directory: created by the run, refused when it holds anything
// unless --force, and then only labtel's own files are removed.
import fs from 'node:fs';
import path from 'node:path';

const OWN_FILE = /^(episode\.json|summary\.json|telemetry-[a-z_]+\.jsonl|network(-\d{3,})?\.pcap|forward-cursor\.json(\.tmp)?|report\.html)$/;

export function prepareEpisodeDir(dir: string, force: boolean): void {
  fs.mkdirSync(dir, { recursive: true });
  const entries = fs.readdirSync(dir);
  if (entries.length === 0) return;
  if (!force) {
    throw new Error(`episode directory ${dir} is not empty (${entries.length} entries); choose another output_dir or pass --force`);
  }
  const foreign = entries.filter((e) => !OWN_FILE.test(e));
  if (foreign.length) {
    throw new Error(`episode directory ${dir} holds files labtel did not write (${foreign.slice(0, 3).join(', ')}); --force removes only labtel's own files`);
  }
  for (const e of entries) fs.rmSync(path.join(dir, e), { force: true });
}

/** Writes a JSON file that must not exist yet, durably. */
export function writeJsonExclusive(file: string, value: unknown): void {
  const fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o644);
  try {
    fs.writeSync(fd, JSON.stringify(value, null, 2) + '\n');
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
