// The live netflow collector, as the catalog (../catalog.ts) knows it.
import { defineCollector, entryBeside, plural } from '../collector-spec.js';
import { netflowConfig } from './config.js';
import { netflowRow } from './rows.js';

export const netflowSpec = defineCollector({
  name: 'netflow',
  config: netflowConfig,
  rows: [{ source: 'netflow', shapes: [{ title: 'bucket', fields: netflowRow }] }],
  availableInDeployment: true,
  needs: 'pcap',
  entry: entryBeside(import.meta.url, 'collector', 'netflow'),
  verify: { source: 'netflow', rhythm: () => true, intervalKey: 'bucket_ms', nothing: (m) => `${plural(m.rows, 'bucket')}, but no packet count had a value` },
});
