// One bounded virsh call for what labtel asks libvirt once (the domain's XML,
// one monitor or agent command): a timeout, a cap on what it may print, and
// an error that carries virsh's own words and names the domain and the URI.
import { execFile } from 'node:child_process';
import { childEnv } from '../util/child-env.js';
import type { LibvirtRef } from './ref.js';
import { VirshError } from './virsh-shell.js';

/** A domain's XML is a few KiB; a monitor answer of query-cpus-fast for 4096 vCPUs stays well under this. */
export const VIRSH_MAX_BYTES = 4 << 20;
export const VIRSH_TIMEOUT_MS = 15_000;

export { VirshError }; // one class for a failed virsh command, the shell's and this one's

/** What `virsh -c URI ARGS...` printed on stdout; rejects with its stderr (cut short) when it fails, runs too long or prints too much. */
export function runVirsh(ref: LibvirtRef, args: string[], opts: { timeoutMs?: number; maxBytes?: number; what?: string } = {}): Promise<string> {
  const what = opts.what ?? `virsh ${args[0]}`;
  const where = `domain ${JSON.stringify(ref.domain)} on ${ref.uri}`;
  return new Promise((resolve, reject) => {
    execFile(
      'virsh',
      ['-q', '-c', ref.uri, ...args],
      { encoding: 'utf8', timeout: opts.timeoutMs ?? VIRSH_TIMEOUT_MS, maxBuffer: opts.maxBytes ?? VIRSH_MAX_BYTES, killSignal: 'SIGKILL', env: { ...childEnv(), LC_ALL: 'C' } },
      (err, stdout, stderr) => {
        if (!err) return resolve(stdout);
        const e = err as NodeJS.ErrnoException & { killed?: boolean; signal?: string | null; code?: number | string };
        const said = stderr.replace(/\s+/g, ' ').trim().slice(0, 500);
        let why: string;
        if (e.code === 'ENOENT') why = 'virsh is not installed (Debian: libvirt-clients)';
        else if (e.code === 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER') why = `it printed more than ${opts.maxBytes ?? VIRSH_MAX_BYTES} bytes; refusing to read more`;
        else if (e.killed || e.signal) why = `no answer within ${(opts.timeoutMs ?? VIRSH_TIMEOUT_MS) / 1000} s`;
        else why = said || `virsh exited with status ${e.code}`;
        reject(new VirshError(`${what} (${where}): ${why}`, { cause: err }));
      },
    );
  });
}
