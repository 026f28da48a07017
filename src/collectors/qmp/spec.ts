// The qmp collector, as the catalog (../catalog.ts) knows it.
import { defineCollector, entryBeside, num, plural } from '../collector-spec.js';
import { qmpConfig } from './config.js';
import { qmpEventRow, qmpRow } from './rows.js';

export const qmpSpec = defineCollector({
  name: 'qmp',
  config: qmpConfig,
  rows: [
    { source: 'qmp', shapes: [{ title: 'poll', fields: qmpRow }] },
    { source: 'qmp_event', shapes: [{ title: 'event', fields: qmpEventRow }] },
  ],
  availableInDeployment: true,
  entry: entryBeside(import.meta.url, 'collector', 'qmp'),
  verify: {
    source: 'qmp',
    rhythm: () => true,
    intervalKey: 'interval_ms',
    drops: () => [], // from summary.json's count, which includes drops after the last poll
    detailDrops: (d) => (num(d.events_dropped) > 0 ? [`${d.events_dropped} QMP events were dropped (past max_events_per_s or max_event_bytes_per_s, or more than could be queued)`] : []),
    nothing: (m) => `${plural(m.rows, 'poll')} answered, but no measured field (status, running, block stats, KVM stats, balloon) had a value`,
  },
});
