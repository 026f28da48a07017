// The socket path labtel is given may not be where QEMU bound its socket: a
// symlink to it (connect() follows it, so the native SO_PEERCRED answer is the
// process behind the link). The pure-TS lookup must give the same answer, or
// `labtel run` decides differently with and without the addon.
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BUILT_ADDON_PATH } from '../../src/native/addon.js';
import { peerPidFrom } from '../../src/native/peer-cred.js';
import type { NativeAddon } from '../../src/native/types.js';
import { qmpTarget } from '../../src/qmp/target.js';
import { startHostileQmp } from '../helpers/hostile-qmp-target.js';
import { tmpDir } from '../helpers/tmp.js';

const addon = createRequire(import.meta.url)(BUILT_ADDON_PATH) as NativeAddon;
const native = (fd: number, what: string) => peerPidFrom(addon, fd, what);
const verdict = (p: Promise<{ pid: number }>) => p.then((t) => `pid ${t.pid}`, (e: Error) => e.message);

describe('a QMP socket path that is a symlink to the socket', () => {
  // regression for: the pure-TS lookup compared the link's own path with the bound one and refused ("no process listens
  // on ...") where SO_PEERCRED, through the link connect() follows, accepted the QEMU behind it.
  it('native and pure TS name the same process, the one behind the link', async () => {
    const q = await startHostileQmp('self');
    const link = path.join(tmpDir('labtel-rb-link-'), 'link.sock');
    fs.symlinkSync(q.socket, link);
    const viaNative = await verdict(qmpTarget(link, '/proc', { executables: ['node'], peerOf: native }));
    const viaTs = await verdict(qmpTarget(link, '/proc', { executables: ['node'] }));
    expect({ native: viaNative, ts: viaTs }).toEqual({ native: `pid ${q.pid}`, ts: `pid ${q.pid}` });
  });
});
