// The manifest, as zod: the single source for validation, defaults and
// docs/manifest.md. Each collector's keys live in its own folder, named by its spec in
// src/collectors/catalog.ts.
import { z } from 'zod';
import { expected, nonEmptyString, positiveInt, safeName } from '../schema/common.js';
import { CATALOG, type CatalogSpec } from '../collectors/catalog.js';
import { sinksConfig } from '../sinks/nats/config.js';
import { DEFAULT_LIBVIRT_URI } from '../libvirt/ref.js';
import { libvirtDomainName, libvirtUri } from '../libvirt/ref-config.js';

export type CollectorName = CatalogSpec['name'];
/** Each collector's manifest keys, from its spec in the catalog, in the catalog's order. */
export const COLLECTOR_CONFIGS = Object.fromEntries(CATALOG.map((s) => [s.name, s.config])) as {
  [K in CollectorName]: Extract<CatalogSpec, { name: K }>['config'];
};
export const KNOWN_COLLECTORS = Object.keys(COLLECTOR_CONFIGS) as CollectorName[];
type ManifestConfigs = { [K in CollectorName]: z.output<(typeof COLLECTOR_CONFIGS)[K]> };
/**
 * What each collector is handed: its manifest keys, with what a target.libvirt_domain fills in filled
 * (libvirt/fill-configs.ts): pcap's iface is then always there (the manifest refuses it missing otherwise).
 */
export type CollectorConfigs = Omit<ManifestConfigs, 'pcap'> & { pcap: ManifestConfigs['pcap'] & { iface: string } };

const target = z
  .strictObject(
    {
      pid: positiveInt('a process id').optional().describe('The QEMU process id.'),
      pidfile: nonEmptyString('a pidfile path').optional().describe("A file holding the QEMU pid (QEMU's -pidfile); followed across restarts."),
      qmp_socket: nonEmptyString('a unix socket path')
        .optional()
        .describe(
          "QEMU's QMP socket: the target is the process at its other end (its peer credentials), which must own every vCPU thread query-cpus-fast names (the proc collector names them) and run an executable that looks like QEMU (see executables); otherwise run and check refuse.",
        ),
      libvirt_domain: libvirtDomainName
        .optional()
        .describe(
          "A running libvirt domain: its QEMU's pid comes from libvirt's pidfile (/run/libvirt/qemu/NAME.pid; a user's session: $XDG_RUNTIME_DIR/libvirt/qemu/run/NAME.pid), followed across restarts, and must be root's and name a process whose command line carries the domain's -uuid and whose executable looks like QEMU; its vCPU and iothread ids come from QEMU through libvirt (virsh qemu-monitor-command). Its XML (virsh dumpxml) fills what the collectors leave out: pcap.iface (its one tap), qmp (through libvirt), guest_agent (the org.labtel.telemetry.0 channel's socket for jsonl, libvirt's org.qemu.guest_agent.0 for qga).",
        ),
      libvirt_uri: libvirtUri
        .optional()
        .describe(`The libvirt connection of libvirt_domain (only with it): ${DEFAULT_LIBVIRT_URI} (the default), qemu:///session, or either through a named local socket (qemu+unix:///system?socket=/path).`),
      executables: z
        .array(nonEmptyString('a glob pattern'), { error: expected('a list of glob patterns') })
        .min(1, { error: expected('at least one glob pattern') })
        .optional()
        .describe(
          "Executables accepted as QEMU besides qemu-system-* and qemu-kvm (matched against /proc/PID/exe): glob patterns, * and ? within one path component, ** across; a pattern without '/' matches the file name. Checked for a qmp_socket or libvirt_domain target, for a pid or pidfile target when collectors.qmp.socket is set, and for each process a pidfile follower takes on.",
        ),
    },
    { error: expected('{"pid": N}, {"pidfile": PATH}, {"qmp_socket": PATH} or {"libvirt_domain": NAME}') },
  )
  .refine((t) => ['pid', 'pidfile', 'qmp_socket', 'libvirt_domain'].filter((k) => k in t && t[k as keyof typeof t] !== undefined).length === 1, {
    error: 'expected exactly one of "pid", "pidfile", "qmp_socket" or "libvirt_domain"',
  })
  .refine((t) => t.libvirt_uri === undefined || t.libvirt_domain !== undefined, {
    error: 'target.libvirt_uri goes only with target.libvirt_domain',
    path: ['libvirt_uri'],
  })
  .describe('The process the collectors observe.');

export const manifestSchema = z
  .strictObject({
    episode: safeName('an episode name').optional().describe('A name for the episode; defaults to the output directory\'s name.'),
    output_dir: nonEmptyString('a directory path').describe("Episode directory, created by labtel run (0750, its files 0640); relative to the current directory. A symlink is refused, and so is a way to it that another user could change (a directory on it owned by another user, or writable by others without the sticky bit); an existing directory of labtel's user loses group write and every bit for others."),
    duration_s: z
      .number({ error: expected('a positive number of seconds') })
      .positive({ error: expected('a positive number of seconds') })
      .max(31_536_000, { error: expected('at most 31536000 seconds (a year)') })
      .optional()
      .describe('Stop after this many seconds, counted from when every collector has started (at most 10 s after launch); without it, run until SIGINT or SIGTERM.'),
    target,
    collectors: z
      .strictObject(
        Object.fromEntries(KNOWN_COLLECTORS.map((k) => [k, COLLECTOR_CONFIGS[k].optional()])) as {
          [K in CollectorName]: z.ZodOptional<(typeof COLLECTOR_CONFIGS)[K]>;
        },
        { error: expected('an object of collectors') },
      )
      .describe('One object per collector to run: ' + KNOWN_COLLECTORS.join(', ') + '.'),
    sinks: sinksConfig.optional(),
  })
  .describe('A labtel manifest (JSON).');

export type Manifest = z.output<typeof manifestSchema>;

/**
 * The keys a manifest must name unless its target is a libvirt domain, whose XML fills them
 * (libvirt/fill-configs.ts): "path: required: what" lines, empty when none is missing. Kept out of
 * manifestSchema, which episode.json's reader takes partially (zod refuses .partial() on a refined object).
 */
export function unfilledKeys(m: Manifest): string[] {
  if (m.target.libvirt_domain !== undefined) return [];
  const out: string[] = [];
  const c = m.collectors;
  const why = '(only a target.libvirt_domain fills it from the domain)';
  if (c.qmp && c.qmp.socket === undefined && c.qmp.libvirt === undefined) out.push(`collectors.qmp.socket: required: a unix socket path, or collectors.qmp.libvirt ${why}`);
  if (c.guest_agent && c.guest_agent.socket === undefined && c.guest_agent.libvirt === undefined) out.push(`collectors.guest_agent.socket: required: a unix socket path ${why}`);
  if (c.pcap && c.pcap.iface === undefined) out.push(`collectors.pcap.iface: required: an interface name ${why}`);
  return out;
}
