// Whether the addon a bench is about to time was built from the C++ that is
// here now: an addon built before the last change under native/ would be
// timed under labtel's name (npm run build compiles only the TypeScript).
import fs from 'node:fs';
import path from 'node:path';

function newestUnder(dir: string): { file: string; mtimeMs: number } {
  let newest = { file: dir, mtimeMs: 0 };
  for (const d of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, d.name);
    const n = d.isDirectory() ? newestUnder(p) : /\.(cc|h|c)$/.test(d.name) ? { file: p, mtimeMs: fs.statSync(p).mtimeMs } : null;
    if (n && n.mtimeMs > newest.mtimeMs) newest = n;
  }
  return newest;
}

/** Why the addon at `addonPath` is older than the C++ sources under ROOT/native (and binding.gyp), or null when it is not. */
export function addonStale(root: string, addonPath: string): string | null {
  const built = fs.statSync(addonPath).mtimeMs;
  const src = newestUnder(path.join(root, 'native'));
  const gyp = path.join(root, 'binding.gyp');
  const newest = fs.statSync(gyp).mtimeMs > src.mtimeMs ? { file: gyp, mtimeMs: fs.statSync(gyp).mtimeMs } : src;
  return newest.mtimeMs > built ? `${addonPath} is older than ${path.relative(root, newest.file)}: rebuild it (npm run build:native) before timing it` : null;
}
