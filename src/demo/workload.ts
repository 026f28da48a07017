// The demo's own target: a small process that uses CPU, writes a file and
// grows its memory, so every proc metric moves. Run as `node -e`.
export const WORKLOAD_SOURCE = `
const fs = require('fs'), os = require('os'), path = require('path');
// Its file in a directory of its own (mkdtemp: 0700, an unguessable name): a fixed /tmp name could be a planted symlink.
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'labtel-demo-workload-'));
const file = path.join(dir, 'data');
const chunk = Buffer.alloc(1 << 16, 7), keep = [];
const parent = process.ppid;
const cleanup = () => { try { fs.rmSync(dir, { recursive: true, force: true }); } catch {} process.exit(0); };
process.on('SIGTERM', cleanup); process.on('SIGINT', cleanup);
setInterval(() => {
  if (process.ppid !== parent) cleanup(); // the demo died without stopping us
  const end = Date.now() + 20; let x = 0;
  while (Date.now() < end) x += Math.sqrt(x + 1);
  fs.writeFileSync(file, chunk, { flag: fs.statSync(file, { throwIfNoEntry: false })?.size > (8 << 20) ? 'w' : 'a' });
  if (keep.length < 64) keep.push(Buffer.alloc(1 << 20, 1));
}, 50);
`;
