// Whether this host can capture as the manifest asks, decided before
// anything runs: tcpdump and setpriv installed, the interface there, the
// user tcpdump captures as (capture-identity.ts), tcpdump started through
// setpriv once to see that it runs as that user with CAP_NET_RAW alone and
// ends when the thread that started it ends, and one `tcpdump -d` the same
// way, which opens the interface (so it needs the capture privilege) and
// compiles the filter, and captures nothing.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import type { CollectorConfigs } from '../../manifest/schema.js';
import { which } from '../../util/which.js';
import { captureIdentity, checkTcpdumpExec, describeIdentity } from './capture-identity.js';
import { IFACE_NAME } from './iface-name.js';
import { type CaptureIdentity, tcpdumpCheckArgs, tcpdumpWrapper } from './tcpdump-args.js';
import { childEnv } from '../../util/child-env.js';

export interface PcapPreflight {
  tcpdump: string | null;
  setpriv: string | null;
  /** With a config, once resolved: who tcpdump runs as. */
  identity: CaptureIdentity | null;
  /** With a config, once resolved: setpriv's argv before tcpdump's (tcpdump-args.ts). */
  wrapper: string[] | null;
  /** null when capture can go ahead, else why not. */
  error: string | null;
}

/** What the run takes from a preflight that passed with its config: the agent hands it to the worker (Availability.handoff). */
export interface PcapHandoff {
  tcpdump: string;
  setpriv: string;
  wrapper: string[];
}

/** The handoff of a preflight with a config that found capture can go ahead; undefined otherwise. */
export function pcapHandoff(p: PcapPreflight): PcapHandoff | undefined {
  return !p.error && p.tcpdump && p.setpriv && p.wrapper ? { tcpdump: p.tcpdump, setpriv: p.setpriv, wrapper: p.wrapper } : undefined;
}

export function isPcapHandoff(x: unknown): x is PcapHandoff {
  const h = x as PcapHandoff | null | undefined;
  return !!h && typeof h.tcpdump === 'string' && typeof h.setpriv === 'string' && Array.isArray(h.wrapper) && h.wrapper.every((a) => typeof a === 'string');
}

/** Without a config: only whether the programs are there (labtel doctor). */
export function pcapPreflight(c?: CollectorConfigs['pcap']): PcapPreflight {
  const tcpdump = which('tcpdump');
  const setpriv = which('setpriv');
  const r: PcapPreflight = { tcpdump, setpriv, identity: null, wrapper: null, error: null };
  if (!tcpdump) r.error = 'tcpdump is not installed (Debian: apt-get install tcpdump)';
  else if (!setpriv) r.error = 'setpriv is not installed (Debian: util-linux); without it tcpdump could outlive the agent';
  if (r.error || !c) return r;
  // The schema checked the name already; checked again here because nothing is spawned on a name that was not.
  if (!IFACE_NAME.test(c.iface)) r.error = `interface ${JSON.stringify(c.iface)} is not a valid interface name`;
  else if (!fs.existsSync(`/sys/class/net/${c.iface}`)) r.error = `interface ${c.iface} does not exist on this host`;
  if (r.error) return r;
  const id = captureIdentity(c.user, c.iface);
  if ('error' in id) {
    r.error = id.error;
    return r;
  }
  r.error = checkTcpdumpExec(setpriv!, tcpdump!, id);
  if (r.error) return r;
  r.identity = id;
  r.wrapper = tcpdumpWrapper(setpriv!, id);
  const argv = [...r.wrapper, tcpdump!, ...tcpdumpCheckArgs(c)];
  try {
    execFileSync(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'], timeout: 10_000, encoding: 'utf8', env: childEnv() });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    const said = (e.stderr || e.message).trim().split('\n').filter((l) => l && !l.startsWith('(')).slice(0, 2).map((l) => l.replace(/^tcpdump: /, '')).join(' ');
    r.error = /permission/i.test(said)
      ? `no privilege to capture on ${c.iface} as ${describeIdentity(id)} (${said})`
      : `tcpdump cannot capture on ${c.iface} as configured: ${said}`;
  }
  if (r.error) r.identity = r.wrapper = null;
  return r;
}
