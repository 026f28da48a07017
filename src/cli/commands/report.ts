// `labtel report <episode-dir> [-o report.html]`.
import fs from 'node:fs';
import path from 'node:path';
import { renderReport } from '../../report/render.js';
import { openOwnNoFollow } from '../../util/write-refusal.js';

export async function reportCommand(dir: string, opts: { output?: string }): Promise<number> {
  const out = opts.output ?? path.join(dir, 'report.html');
  const r = renderReport(dir);
  // 0640 like the episode it shows; never through a symlink planted at its path (refused: ELOOP), nor into a
  // fifo, another user's file or a hard link found there (-o names any path, /tmp ones included).
  const fd = openOwnNoFollow(out, 'truncate');
  try {
    fs.writeFileSync(fd, r.html);
  } finally {
    fs.closeSync(fd);
  }
  console.error(`labtel: wrote ${out} (${(r.html.length / 1e6).toFixed(1)} MB, ${r.panels} panels, ${r.markers} QMP event markers, ${r.breaks} break and dropped-value markers)`);
  return 0;
}
