// The pcap collector, as the catalog (../catalog.ts) knows it.
import { defineCollector, entryBeside, num as n, plural, shapeCount, type RowShape } from '../collector-spec.js';
import { captureVsIface } from './capture-vs-iface.js';
import { pcapConfig } from './config.js';
import { pcapEventRow, pcapIntervalRow } from './rows.js';

const shapes: RowShape[] = [
  { title: 'interval', fields: pcapIntervalRow },
  { title: 'capture event', fields: pcapEventRow },
];

export const pcapSpec = defineCollector({
  name: 'pcap',
  config: pcapConfig,
  rows: [{ source: 'pcap', shapes }],
  availableInDeployment: true,
  entry: entryBeside(import.meta.url, 'collector', 'pcap'),
  verify: {
    source: 'pcap',
    rhythm: (r) => !('event' in r),
    intervalKey: 'interval_ms',
    drops: (l) => [
      ...(n(l.kernel_drops) > 0 ? [`the kernel dropped ${l.kernel_drops} packets the capture could not keep up with`] : []),
      ...(n(l.if_drops) > 0 ? [`the interface dropped ${l.if_drops} packets`] : []),
      ...(l.drops_lower_bound === true ? ['a tcpdump run was killed before its final statistics: the drop counts are lower bounds'] : []),
    ],
    // The capture against its interface's counters (capture-vs-iface.ts: the rule, and why it is not made with a filter).
    fold: (config) => captureVsIface(String(config.iface), config.filter),
    nothing: (m) =>
      `${plural(shapeCount(shapes, 'interval', m).rows, 'interval row')}, but pkts and bytes were null in every one: tcpdump never delivered a counted interval (its totals and drop counters are bookkeeping, not measurements)`,
  },
});
