// The guest_agent collector, as the catalog (../catalog.ts) knows it.
import { defineCollector, entryBeside, num as n, plural, shapeCount, type RowShape, type ScannedSource } from '../collector-spec.js';
import { guestAgentConfig } from './config.js';
import { guestChannelRow, guestLineRow, guestQgaOsinfoRow, guestQgaRow } from './rows.js';

const shapes: RowShape[] = [
  { title: 'line', fields: guestLineRow },
  // Before qga, whose command also accepts guest-get-osinfo: the first shape a row passes is its shape.
  { title: 'qga osinfo', fields: guestQgaOsinfoRow },
  { title: 'qga', fields: guestQgaRow },
  { title: 'channel', fields: guestChannelRow },
];

function guestNothing(main: ScannedSource): string {
  const ch = main.lastPicked;
  const lines = shapeCount(shapes, 'line', main).rows;
  const qga = shapeCount(shapes, 'qga', main).rows;
  const head = !ch
    ? 'no guest line or qga answer, and no channel row'
    : n(ch.connections) > 0
      ? `the channel connected (${plural(n(ch.connections), 'connection')}) but delivered no guest line or qga answer`
      : 'the channel never connected (0 connections): no guest line or qga answer';
  const osinfo = shapeCount(shapes, 'qga osinfo', main).rows;
  const extra = [
    ...(osinfo ? [`${plural(osinfo, 'guest-get-osinfo answer')} named the OS (identity, not a measurement)`] : []),
    ...(lines ? [`${plural(lines, 'guest line')} held no value (an empty object, or only nulls)`] : []),
    ...(qga ? [`${plural(qga, 'qga command')} got no answer with a value (every result null, empty, or only nulls)`] : []),
  ];
  return extra.length ? `${head}; ${extra.join(', ')}` : head;
}

export const guestAgentSpec = defineCollector({
  name: 'guest_agent',
  config: guestAgentConfig,
  rows: [{ source: 'guest', shapes }],
  availableInDeployment: false,
  entry: entryBeside(import.meta.url, 'collector', 'guestAgent'),
  verify: {
    source: 'guest',
    rhythm: (r) => r.kind === 'channel',
    intervalKey: 'interval_ms',
    drops: (l) => {
      const kinds = ['oversize', 'rate', 'invalid_utf8', 'invalid_json', 'too_deep', 'not_object', 'byte_rate', 'total_cap', 'unasked'].filter((k) => n(l[`dropped_${k}`]) > 0);
      const total = kinds.reduce((s, k) => s + n(l[`dropped_${k}`]), 0);
      return total ? [`the guest channel dropped ${total} lines (${kinds.map((k) => `${k}: ${l[`dropped_${k}`]}`).join(', ')})`] : [];
    },
    nothing: guestNothing,
  },
});
