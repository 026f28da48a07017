// The manifest, as zod: the single source for validation, defaults and
// docs/manifest.md. Each collector's keys live in its own folder, named by its spec in
// src/collectors/catalog.ts.
import { z } from 'zod';
import { expected, nonEmptyString, positiveInt, safeName } from '../schema/common.js';
import { CATALOG, type CatalogSpec } from '../collectors/catalog.js';
import { sinksConfig } from '../sinks/nats/config.js';

export type CollectorName = CatalogSpec['name'];
/** Each collector's manifest keys, from its spec in the catalog, in the catalog's order. */
export const COLLECTOR_CONFIGS = Object.fromEntries(CATALOG.map((s) => [s.name, s.config])) as {
  [K in CollectorName]: Extract<CatalogSpec, { name: K }>['config'];
};
export const KNOWN_COLLECTORS = Object.keys(COLLECTOR_CONFIGS) as CollectorName[];
export type CollectorConfigs = { [K in CollectorName]: z.output<(typeof COLLECTOR_CONFIGS)[K]> };

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
      executables: z
        .array(nonEmptyString('a glob pattern'), { error: expected('a list of glob patterns') })
        .min(1, { error: expected('at least one glob pattern') })
        .optional()
        .describe(
          "Executables accepted as QEMU besides qemu-system-* and qemu-kvm (matched against /proc/PID/exe): glob patterns, * and ? within one path component, ** across; a pattern without '/' matches the file name. Checked for a qmp_socket target, for a pid or pidfile target when collectors.qmp.socket is set, and for each process a pidfile follower takes on.",
        ),
    },
    { error: expected('{"pid": N}, {"pidfile": PATH} or {"qmp_socket": PATH}') },
  )
  .refine((t) => ['pid', 'pidfile', 'qmp_socket'].filter((k) => k in t && t[k as keyof typeof t] !== undefined).length === 1, {
    error: 'expected exactly one of "pid", "pidfile" or "qmp_socket"',
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
