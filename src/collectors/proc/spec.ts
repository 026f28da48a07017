// The proc collector, as the catalog (../catalog.ts) knows it.
import { defineCollector, entryBeside, plural, shapeCount, type RowShape } from '../collector-spec.js';
import { procConfig } from './config.js';
import { procProcessRow, procThreadRow } from './rows.js';
import { hostCgroupRow } from './cgroup-rows.js';

const shapes: RowShape[] = [
  { title: 'process', fields: procProcessRow },
  { title: 'thread', fields: procThreadRow },
];

export const procSpec = defineCollector({
  name: 'proc',
  config: procConfig,
  rows: [
    { source: 'host_proc', shapes },
    { source: 'host_cgroup', shapes: [{ title: 'cgroup', fields: hostCgroupRow }] },
  ],
  availableInDeployment: true,
  entry: entryBeside(import.meta.url, 'collector', 'proc'),
  verify: {
    source: 'host_proc',
    rhythm: (r) => !('tid' in r),
    intervalKey: 'interval_ms',
    measuredShapes: ['process'],
    nothing: (m) => {
      const threads = shapeCount(shapes, 'thread', m);
      const what = 'every measured field (state, CPU time, faults, memory, context switches, I/O) was null';
      if (!threads.measured) return `${plural(m.rows, 'host_proc row')}, but ${what}`;
      return `${plural(shapeCount(shapes, 'process', m).rows, 'process row')}, but in each ${what}: the process itself was never read (only ${plural(threads.measured, 'thread row')} measured)`;
    },
    secondary: [
      {
        source: 'host_cgroup',
        nothing: (s, first) => {
          const reasons = (first?.null_reasons ?? {}) as Record<string, unknown>;
          const why = reasons.cpu_usage_us ?? Object.values(reasons)[0];
          return `${plural(s.rows, 'host_cgroup row')}, but every value was null${typeof why === 'string' ? ` (first: ${why.slice(0, 300)})` : ''}: the target's cgroup was never read; where this host (or labtel's mount namespace) has no cgroup v2, set the proc collector's "cgroup": false`;
        },
      },
    ],
  },
});
