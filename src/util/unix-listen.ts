// A unix socket labtel listens on, made without a window: bound inside a
// fresh 0700 directory beside the target path (same filesystem), made 0600
// there, where no one else can reach it, then renamed into place. rename
// replaces a stale socket or a symlink at the path without following it, and
// nothing is ever chmod-ed through the public path. A path whose directory
// others can write is refused: whoever can write there can put their own
// socket or a symlink at the name, or move ours away.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { dirChainProblem, type DirRules } from './safe-dir.js';

/** sun_path holds 108 bytes, the last a NUL. */
const SUN_PATH_MAX = 107;

/** The socket's directory: see unsafeSocketDir(). */
const SOCKET_DIR_RULES: DirRules = {
  strictLast: true,
  harm: "take the socket's name or put a symlink there",
  lastHarm: 'replace the socket',
  wayOut: `, or let QEMU be the server (chardev server=on, libvirt's mode='bind') and use mode "connect"`,
};

/**
 * Why labtel will not listen at `socketPath`, or null: the way to its
 * directory walked as for every directory labtel writes into (safe-dir.ts
 * dirChainProblem: each directory passed through owned by root or labtel's
 * user and not writable by others unless sticky, each symlink followed
 * owned by them and in such a directory), and the socket's own directory
 * must exist and be writable by no one else, sticky or not (in a sticky
 * /tmp anyone can still take the name first).
 */
export function unsafeSocketDir(socketPath: string): string | null {
  return dirChainProblem(path.dirname(path.resolve(socketPath)), "the socket's directory", SOCKET_DIR_RULES);
}

/**
 * Why labtel will not connect to a socket at `socketPath` that a peer serves (a libvirt domain's telemetry channel,
 * named by its XML), or null: the way to it walked as for a socket labtel listens on, its owners root, labtel's user
 * or the peer's own uid (`peer`), which could replace what it serves anyway. Anyone else who can change the way could
 * put a socket of theirs at the path, and labtel would take what it sends for the guest's.
 */
export function unsafeServedSocketDir(socketPath: string, peer?: { uid: number; who: string }): string | null {
  return dirChainProblem(path.dirname(path.resolve(socketPath)), "the socket's directory", {
    strictLast: true,
    harm: 'put a socket of their own at the path',
    lastHarm: 'replace the socket',
    ...(peer ? { alsoTrusted: peer } : {}),
  });
}

/**
 * Makes `server` listen at `socketPath`, mode 0600, without a window: see
 * the file's head. Throws, naming the path, when the directory is unsafe,
 * something other than a socket or symlink is at the path, or binding fails;
 * a temporary directory it made is gone then. Resolves with the real path it
 * listens at (the directory's symlinks resolved).
 */
export async function listenUnix(server: net.Server, socketPath: string): Promise<string> {
  const unsafe = unsafeSocketDir(socketPath);
  if (unsafe) throw new Error(`refusing to listen on ${socketPath}: ${unsafe}`);
  const target = path.join(fs.realpathSync(path.dirname(path.resolve(socketPath))), path.basename(socketPath));
  let st: fs.Stats | undefined;
  try {
    st = fs.lstatSync(target);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  // A stale socket (an earlier run's) or a symlink is replaced by the rename; anything else is not touched.
  if (st && !st.isSocket() && !st.isSymbolicLink()) throw new Error(`refusing to listen on ${socketPath}: something that is not a socket is there`);
  const tmp = fs.mkdtempSync(path.join(path.dirname(target), '.lt-')); // 0700, ours
  const bound = path.join(tmp, 's');
  try {
    if (Buffer.byteLength(bound) > SUN_PATH_MAX || Buffer.byteLength(target) > SUN_PATH_MAX) {
      throw new Error(`the path is longer than a unix socket's ${SUN_PATH_MAX} bytes (labtel binds at ${bound} first)`);
    }
    await new Promise<void>((resolve, reject) => {
      const onError = (e: Error) => reject(e);
      server.once('error', onError);
      server.listen(bound, () => {
        server.off('error', onError);
        resolve();
      });
    });
    fs.chmodSync(bound, 0o600); // inside a 0700 directory only labtel can write: no one can swap it
    const ours = fs.lstatSync(bound);
    fs.renameSync(bound, target);
    // libuv unlinks the name it bound (gone now) on close: the socket at the path is removed here, if still ours.
    server.once('close', () => {
      try {
        const now = fs.lstatSync(target);
        if (now.isSocket() && now.ino === ours.ino && now.dev === ours.dev) fs.unlinkSync(target);
      } catch {
        // already gone
      }
    });
  } catch (err) {
    if (server.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
    throw new Error(`cannot listen on ${socketPath}: ${(err as Error).message}`, { cause: err });
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return target;
}

/**
 * An accepted connection (from a server made with pauseOnConnect: true),
 * moved to a socket whose reads all land in `buffer`: net.Server has no
 * onread option, and without one every read is a fresh 64 KiB buffer, tens
 * of MiB of garbage before the next GC under a flood. Falls back to the
 * socket as accepted (reading into fresh buffers, its 'data' events passed
 * to `callback`) if Node's private handle is not where it is in Node 20-22.
 */
export function withReadBuffer(accepted: net.Socket, buffer: Buffer, callback: (bytes: Buffer) => void): net.Socket {
  const s = accepted as net.Socket & { _handle?: unknown };
  const handle = s._handle;
  if (!handle || typeof (handle as { useUserBuffer?: unknown }).useUserBuffer !== 'function') {
    accepted.on('data', callback);
    accepted.resume();
    return accepted;
  }
  s._handle = null; // the handle is the new socket's now: destroying this one closes nothing
  accepted.destroy(); // (and counts the connection as gone for the server)
  return new net.Socket({
    handle,
    readable: true,
    writable: true,
    onread: { buffer, callback: (n: number, b: Uint8Array) => (callback(Buffer.from(b.buffer, b.byteOffset, n)), true) },
  } as net.SocketConstructorOpts);
}
