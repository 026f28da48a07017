// A qmp_event row from one QMP event: on the episode clock through QEMU's
// own timestamp when it is sane, else the time it was received; its data
// only when it is at most MAX_EVENT_DATA (the client dropped larger data as
// it came, keeping its size for the reason).
import type { EpisodeClock } from '../../clock/origin.js';
import type { QmpEvent } from '../../qmp/client.js';

export const MAX_EVENT_DATA = 64 << 10;
/** How far QEMU's event time may be from its receipt and still be used (the host's clock, stepped by NTP at worst). */
const MAX_EVENT_SKEW_NS = 600e9;

/** [t_mono_ns, fields, null_reasons]. */
export function eventRow(e: QmpEvent, clock: EpisodeClock): [number, object, Record<string, string> | undefined] {
  const received = clock.fromMono(e.receivedMonoNs);
  const reasons: Record<string, string> = {};
  // QEMU's clock is the host's, so its time is within moments of receipt; one that is not is not used.
  let wall = e.wallNs;
  const mapped = wall === null ? null : clock.fromWall(wall);
  if (mapped !== null && !(Number.isSafeInteger(mapped) && Math.abs(mapped - received) <= MAX_EVENT_SKEW_NS)) {
    reasons.qemu_wall_ns = `QEMU's timestamp ${wall} is ${((mapped - received) / 1e9).toPrecision(3)} s from when the event was received; t_mono_ns is the time it was received`;
    wall = null;
  }
  const t = wall !== null ? mapped! : received;
  const tooBig = e.dataBytes > MAX_EVENT_DATA;
  if (tooBig) reasons.data = `${e.dataBytes} bytes of event data, more than the ${MAX_EVENT_DATA} kept`;
  if (e.wallNs === null) reasons.qemu_wall_ns = 'QEMU sent no timestamp that parses; t_mono_ns is the time it was received';
  return [
    t,
    { event: e.event, data: tooBig ? null : e.data, qemu_wall_ns: wall?.toString() ?? null, time_source: wall !== null ? 'qemu' : 'received' },
    Object.keys(reasons).length ? reasons : undefined,
  ];
}
