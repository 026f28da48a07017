// Builds the addon during `npm install` with the node-gyp that npm ships.
// labtel works without the addon (pure-TS path), so a failed build warns and
// lets the install finish; CI and `npm run build:native` pass --required (or
// LABTEL_REQUIRE_NATIVE=1) so a broken build cannot hide behind the fallback.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';

const required = process.argv.includes('--required') || process.env.LABTEL_REQUIRE_NATIVE === '1';
const require = createRequire(import.meta.url);

function nodeGypBin() {
  if (process.env.npm_config_node_gyp) return process.env.npm_config_node_gyp;
  const npmDir = path.dirname(path.dirname(require.resolve('npm/package.json', { paths: [path.dirname(process.execPath) + '/../lib/node_modules'] })));
  return path.join(npmDir, 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
}

let bin;
try {
  bin = nodeGypBin();
} catch (err) {
  fail(`node-gyp not found (${err.message})`);
}
const args = [bin, 'rebuild'];
// Headers ship with Node in /usr/include/node on Debian; without nodedir
// node-gyp would try to download them.
if (!process.env.npm_config_nodedir) args.push('--nodedir=' + path.resolve(path.dirname(process.execPath), '..'));
const r = spawnSync(process.execPath, args, { stdio: 'inherit' });
if (r.status !== 0) fail(`node-gyp rebuild exited with ${r.status ?? r.signal}`);

function fail(why) {
  const msg = `labtel: the native addon was not built: ${why}. labtel will use its pure-TypeScript path (slower, same results); \`npx labtel doctor\` says what is active.`;
  if (required) {
    console.error(msg.replace('labtel will use', 'Refusing, because a native build was required;').replace(/; `npx.*$/, '.'));
    process.exit(1);
  }
  console.warn(msg);
  process.exit(0);
}
