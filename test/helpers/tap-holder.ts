// A stand-in for QEMU holding a guest's tap: python3 opens /dev/net/tun as a
// tap (IFF_TAP | IFF_NO_PI) under the name given, says "ready", then runs the
// script's body with the tap's descriptor as `fd`, reading commands on stdin.
// And the pcap interval rows an episode has written so far.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { readJsonl } from './tmp.js';
import { waitFor } from './wait.js';

const OPEN_TAP = `import fcntl, os, struct, sys, time
fd = os.open('/dev/net/tun', os.O_RDWR)
fcntl.ioctl(fd, 0x400454ca, struct.pack('16sH', sys.argv[1].encode(), 0x0002 | 0x1000))
print('ready', flush=True)
`;

export interface TapHolder {
  proc: ChildProcess;
  /** Every line it printed, in order ("ready" first). */
  said: string[];
  /** Closes its stdin (the body's loop ends) and kills it. */
  stop(): void;
}

/** Starts the holder of tap `name` running `body` (python, after the tap is open; sys.argv[2:] are `args`); resolves once the tap exists. */
export async function holdTap(name: string, body: string, args: string[] = []): Promise<TapHolder> {
  const proc = spawn('python3', ['-c', OPEN_TAP + body, name, ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
  const said: string[] = [];
  readline.createInterface({ input: proc.stdout! }).on('line', (l) => said.push(l));
  const stop = () => {
    proc.stdin!.end();
    proc.kill();
  };
  try {
    await waitFor(() => said.includes('ready'), `the tap ${name}`);
  } catch (err) {
    stop();
    throw err;
  }
  return { proc, said, stop };
}

/** The pcap interval rows (not the event rows) in an episode directory so far; none before the file exists. */
export function pcapIntervals(dir: string): Array<Record<string, unknown>> {
  try {
    return readJsonl(path.join(dir, 'telemetry-pcap.jsonl')).filter((r) => !('event' in r));
  } catch {
    return [];
  }
}
