// The perf collector, as the catalog (../catalog.ts) knows it.
import { defineCollector, entryBeside, plural } from '../collector-spec.js';
import { perfConfig } from './config.js';
import { perfRow } from './rows.js';

export const perfSpec = defineCollector({
  name: 'perf',
  config: perfConfig,
  rows: [{ source: 'host_perf', shapes: [{ title: 'interval', fields: perfRow }] }],
  availableInDeployment: false,
  entry: entryBeside(import.meta.url, 'collector', 'perf'),
  verify: { source: 'host_perf', rhythm: () => true, intervalKey: 'interval_ms', nothing: (m) => `${plural(m.rows, 'row')}, every counter null (never counted)` },
});
