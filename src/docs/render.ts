// docs/rows.md and docs/manifest.md, rendered from the zod schemas so the docs
// cannot drift from the code (test/docs/render.test.ts compares them).
import { z } from 'zod';
import { CATALOG } from '../collectors/catalog.js';
import { COLLECTOR_CONFIGS, KNOWN_COLLECTORS, manifestSchema } from '../manifest/schema.js';
import { SOURCES, envelope } from '../rows/envelope.js';
import { isMeasurement } from '../rows/measurement.js';
import { measurementPaths } from '../rows/measurements.js';
import { ROW_SHAPES } from '../rows/registry.js';
import { collectorVerdict, verifyReport } from '../verify/report.js';
import { natsSinkConfig } from '../sinks/nats/config.js';

type JS = {
  type?: string | string[];
  anyOf?: JS[];
  enum?: unknown[];
  const?: unknown;
  items?: JS;
  minimum?: number;
  exclusiveMinimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  default?: unknown;
  description?: string;
  format?: string;
  properties?: Record<string, JS>;
  required?: string[];
};

const SAFE_MAX = Number.MAX_SAFE_INTEGER;

function typeOf(s: JS): string {
  if (s.anyOf) {
    const parts = s.anyOf.map(typeOf);
    return [...new Set(parts)].join(' or ');
  }
  if (s.enum) return s.enum.map((e) => JSON.stringify(e)).join(' | ');
  if (Array.isArray(s.type)) return s.type.map((t) => typeOf({ ...s, type: t })).join(' or ');
  if (s.const !== undefined) return JSON.stringify(s.const);
  if (s.format) return s.format;
  switch (s.type) {
    case 'integer':
      if (s.exclusiveMinimum === 0) return 'integer > 0';
      if (s.minimum === 0) return 'integer ≥ 0';
      return 'integer';
    case 'number':
      return s.exclusiveMinimum === 0 ? 'number > 0' : 'number';
    case 'string':
      return s.maxLength === 1 && s.minLength === 1 ? 'one character' : 'string';
    case 'array':
      return `list of ${s.items ? typeOf(s.items) : 'values'}`;
    case 'object':
      return 'object';
    case 'null':
      return 'null';
    case 'boolean':
      return 'boolean';
    default:
      return 'any';
  }
}

const cell = (t: string) => t.replace(/\|/g, '\\|').replace(/\n/g, ' ');
const maxNote = (s: JS) => (s.maximum !== undefined && s.maximum !== SAFE_MAX ? `, at most ${s.maximum}` : '');

const jsonSchema = (schema: z.ZodType, io: 'input' | 'output') => z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as JS;

/**
 * The fields inside a row field, by path (`block.*.rd_bytes`; `*` is any key of a map or
 * element of a list): every field of a nested object, and a map's or list's values when
 * they are measurements or described.
 */
function nestedFields(s: z.ZodType, at: string[], out: Array<[string[], z.ZodType]>): void {
  if (s instanceof z.ZodNullable || s instanceof z.ZodOptional) return nestedFields(s.unwrap() as z.ZodType, at, out);
  if (s instanceof z.ZodObject) {
    for (const [k, v] of Object.entries(s.shape)) {
      out.push([[...at, k], v as z.ZodType]);
      nestedFields(v as z.ZodType, [...at, k], out);
    }
    return;
  }
  const inner = s instanceof z.ZodRecord ? s.valueType : s instanceof z.ZodArray ? s.element : null;
  if (!inner) return;
  let v = inner as z.ZodType;
  while (!isMeasurement(v) && (v instanceof z.ZodNullable || v instanceof z.ZodOptional)) v = v.unwrap() as z.ZodType;
  if (v instanceof z.ZodObject || v instanceof z.ZodRecord || v instanceof z.ZodArray) nestedFields(v, [...at, '*'], out);
  else if (isMeasurement(inner as z.ZodType) || (inner as z.ZodType).description) out.push([[...at, '*'], inner as z.ZodType]);
}

/** Options of a field table: manifest keys show defaults; row fields say which are measurements, nested fields included. */
type TableOpts = { io: 'input' | 'output'; defaults: boolean; measurements?: boolean };

function fieldTable(schema: z.ZodObject, opts: TableOpts): string {
  const js = jsonSchema(schema, opts.io);
  const required = new Set(js.required ?? []);
  const measured = opts.measurements ? new Set(measurementPaths(schema).map((p) => p.join('.'))) : null;
  const head = opts.defaults
    ? '| key | type | default | description |\n|---|---|---|---|'
    : measured
      ? '| field | type | measurement | description |\n|---|---|---|---|'
      : '| field | type | description |\n|---|---|---|';
  const line = (name: string, p: JS) => {
    const type = cell(typeOf(p) + maxNote(p));
    const desc = cell(p.description ?? '');
    if (opts.defaults) {
      const def = p.default !== undefined ? `\`${JSON.stringify(p.default)}\`` : required.has(name) ? 'required' : '—';
      return `| \`${name}\` | ${type} | ${def} | ${desc} |`;
    }
    return measured ? `| \`${name}\` | ${type} | ${measured.has(name) ? 'yes' : ''} | ${desc} |` : `| \`${name}\` | ${type} | ${desc} |`;
  };
  const rows = Object.entries(js.properties ?? {}).flatMap(([k, p]) => {
    if (!measured) return [line(k, p)];
    const inside: Array<[string[], z.ZodType]> = [];
    nestedFields(schema.shape[k] as z.ZodType, [k], inside);
    return [line(k, p), ...inside.map(([at, s]) => line(at.join('.'), jsonSchema(s, opts.io)))];
  });
  return [head, ...rows].join('\n');
}

export function renderRowsDoc(): string {
  const out: string[] = [
    '# Rows',
    '',
    '<!-- Generated from the zod schemas in src/ by `npm run docs`; do not edit by hand. -->',
    '',
    'labtel writes one JSON object per line into `telemetry-<collector>.jsonl` in the episode directory.',
    '`null` means "not collected"; where the cause is known, `null_reasons` names it. A missing value is never written as 0.',
    'A few fields are null when they do not apply rather than when they were not collected (`process_event` on an ordinary sample, `vcpu` on a thread that is not a vCPU); their descriptions say so, and they carry no reason.',
    '',
    '**Measurements.** The `measurement` column marks the fields that hold what was measured of the target, the guest or the network. Every other field is identity (`pid`, `tid`, `starttime`, `comm`, `run`, the vCPUs\' thread ids), timing (`interval_s`, `poll_ms`, `at_ns`), a setting (`bucket_ms`), or the collector\'s own bookkeeping (a capture\'s running total, drop counters and saved bytes; a guest channel\'s connection, line, byte and drop counters; QMP events dropped; perf\'s `running_pct`): these hold numbers even when nothing was measured. A measurement that is an object or a list counts only when something in it, at any depth, is not null (`{}`, `[]` and `{\"cpu\": null}` measured nothing): a guest line\'s `guest` object and a qga `result` holding a value are measurements of the guest; a channel row never is. `labtel verify` fails a collector when no row of its interval source (' + CATALOG.map((c) => c.verify.source).join(', ') + ') has a non-null measurement ([verify.md](verify.md)). In field paths, `*` stands for any key of a map (a device, a statistic) or any element of a list. `MEASUREMENTS` in src/rows/measurements.ts is the same table for programs.',
    '',
    '## Envelope (every row)',
    '',
    fieldTable(z.strictObject(envelope), { io: 'output', defaults: false }),
    '',
    'In an episode `labtel pull` made, a row the NATS forwarder could not carry (larger than a message may be on that server) is a **stub**: its envelope (`source`, `t_mono_ns`, `seq`) and `"stub": "<why>"` in place of its fields; the row itself is in the recording host\'s file ([nats.md](nats.md)).',
  ];
  for (const source of SOURCES) {
    out.push('', `## \`${source}\``, '');
    const shapes = ROW_SHAPES[source];
    if (!shapes) {
      out.push('Not written by this version of labtel yet.');
      continue;
    }
    for (const shape of shapes) {
      if (shapes.length > 1) out.push(`### ${shape.title} rows`, '');
      if (shape.fields.description) out.push(shape.fields.description, '');
      out.push(fieldTable(shape.fields, { io: 'output', defaults: false, measurements: true }), '');
    }
    while (out[out.length - 1] === '') out.pop();
  }
  return out.join('\n') + '\n';
}

export function renderManifestDoc(): string {
  const top = z.strictObject(
    Object.fromEntries(Object.entries(manifestSchema.shape).filter(([k]) => k !== 'collectors')) as z.ZodRawShape,
  );
  const out: string[] = [
    '# Manifest',
    '',
    '<!-- Generated from the zod schemas in src/ by `npm run docs`; do not edit by hand. -->',
    '',
    'A manifest is a JSON file given to `labtel run`. Unknown keys are refused, and every error names the key and the value received.',
    '',
    '## Top level',
    '',
    fieldTable(top, { io: 'input', defaults: true }),
    '',
    '`target` is one of `{"pid": N}`, `{"pidfile": PATH}`, `{"qmp_socket": PATH}` or `{"libvirt_domain": NAME}` (with `libvirt_uri`); `executables` goes with any of them.',
    '',
    '### `target`',
    '',
    fieldTable(manifestSchema.shape.target as unknown as z.ZodObject, { io: 'input', defaults: true }),
    '',
    '## `collectors`',
    '',
    'One object per collector to run; a collector that is absent does not run.',
  ];
  for (const name of KNOWN_COLLECTORS) {
    const schema = COLLECTOR_CONFIGS[name];
    out.push('', `### \`collectors.${name}\``, '');
    if (schema.description) out.push(schema.description, '');
    out.push(fieldTable(schema, { io: 'input', defaults: true }));
  }
  out.push('', '## `sinks.nats`', '', natsSinkConfig.description ?? '', '', fieldTable(natsSinkConfig, { io: 'input', defaults: true }), '', 'The wire, bounds, accounting and permissions: [nats.md](nats.md).');
  return out.join('\n') + '\n';
}

export function renderVerifyDoc(): string {
  return [
    '# `labtel verify`',
    '',
    '<!-- Generated from src/verify/report.ts by `npm run docs`; do not edit by hand. -->',
    '',
    '`labtel verify <episode-dir>` judges an episode from its files alone (episode.json, summary.json, telemetry-*.jsonl) for the verification layer, which trusts rows only when every selected collector really emitted real values. It exits 0 only when every collector is ok (`--allow-degraded` also accepts degraded), 1 otherwise, 2 when the directory is not an episode.',
    '',
    'A collector **fails** when it wrote zero rows, when no row of its interval source has a measured value (the fields [rows.md](rows.md) marks as measurements; bookkeeping numbers such as a guest channel\'s counters, a capture\'s totals or QMP\'s vCPU thread ids do not count, nor does an object or list holding only nulls, such as a guest line `{}` or a qga answer `[]`; proc counts its process rows, not its thread rows, as `labtel run` does; and the reason says what was missing), when rows fail their schema, when rows are missing (a gap in `seq`), when its file has lines that are not rows (a partial last line), when summary.json says it failed, or when it ended with the target (`target_exited`) while the target lived on: proc\'s rows show the target restarted as a new process after the collector\'s last row, or proc kept sampling it for more than 3 of the collector\'s intervals after it, or (without proc rows) a pidfile or QMP socket target\'s episode went on for more than 3 intervals after it and did not stop because its collectors ended, unless the collector followed a pidfile target and says when it saw it gone (perf\'s `detail.target_gone_at_ns`, within 3 intervals or 1 s of its last row: it watched the pidfile from then to the stop and nothing came back). A collector that ended with a target that did not live on is not degraded for its rows stopping before the episode ended, nor is one whose last row records the target\'s exit (proc following a pidfile target that never came back); the gap from proc\'s `exited` row to its `restarted` row is no silence either. It is **degraded** when its values are real but the reader must know something: its rows stop for more than 3x its interval (proc, perf, pcap, qmp `interval_ms`; netflow `bucket_ms`; guest_agent channel rows), `t_mono_ns` goes backwards, drops were reported (the kernel\'s or the interface\'s capture drops, QMP events dropped, guest lines dropped), it restarted or reconnected, it reported errors, it was skipped as optional, or (in a pulled episode) some of its rows are stubs the NATS forwarder sent in place of rows too large to carry: stubs are not measurements, so a collector whose rows are all stubs fails.',
    '',
    "pcap is also **degraded** when its capture delivered far fewer packets than its interface transmitted: over each stretch of interval rows of one tcpdump run on one ifindex (tcpdump running, the interface's counters and `if_tx_queue_frames` read and not going back), the interface's `if_tx_packets` from the stretch's first row to its last, against the `pkts` tcpdump delivered in the intervals after the first (and in the row right after the stretch when it is of the same tcpdump run: its deliveries up to ~1 s late, counted up to twice what the stretch delivered in its last 1.1 s plus 100, so a burst in that row cannot hide a loss); summed over the stretches, the capture is degraded when its packets are under 90% of the interface's tx packets and more than 100 short plus, for each stretch, the frames the interface's transmit queues can hold (`if_tx_queue_frames`, tx_queue_len times the tx queues: a tap counts tx when QEMU reads a frame from its ring, so a paused guest's backlog the capture saw earlier is counted later; 0 on a bridge whose tx_queue_len is 0), and its bytes are under 90% of `if_tx_bytes` too (with TSO/GSO, a capture sees fewer, larger packets of nearly the same bytes). Transmit only: every frame an interface transmits passed the capture's tap before the driver counted it, while a received frame can be counted and then dropped before any tap (a guest's malformed frame on its tap, a bridge's input firewall), so the receive side would let a guest fake a loss. A stretch whose queue capacity is not known (sysfs not shown to be the agent's namespace) is not cross-checked: a queued backlog could not be told from a loss. Once the interface's ifindex changes within a tcpdump run (another interface renamed to the captured name), the rest of that run is not cross-checked: tcpdump stays on the interface it opened. The sentence names the stretches, the tcpdump runs and the ifindexes it compared, and the margin. What the rule cannot see: a loss confined to received packets; and since `pkts` counts both directions and is compared with tx alone, a loss spread evenly over all packets stays hidden while the capture still delivers 90% of tx's count (a share of all packets up to 1 - 0.9 x tx/(rx+tx): with as much received as transmitted, up to 55% lost unseen); tcpdump's `kernel_drops` counts a capture buffer's overflow, verify reports those. A capture that sees more than the counters is never degraded (it sees what was received too; a bridge's counters count only the host's frames), and a capture with a BPF `filter` is not cross-checked. A pcap whose rows measured only the interface's counters, never a `pkts`, fails: it never captured. The interface's own drops (`if_rx_dropped`, `if_tx_dropped`) are the network's, not the capture's, and degrade nothing: the report draws them.",
    '',
    "A collector's other sources are judged too (schema, `seq`), and one that wrote rows none of which measured anything degrades it: proc with `cgroup` on (the default) whose `host_cgroup` rows are all null (the target's cgroup was never read: no cgroup v2 in labtel's mount namespace, a path not followed, ...) is **degraded**, the reason naming the first row's reason and suggesting `\"cgroup\": false` where the host has no cgroup v2. Its process rows still decide whether it failed.",
    '',
    '## `--json`',
    '',
    '```json',
    '{"verdict": "degraded", "episode": "syn-flood-01", "reasons": [], "collectors": {"proc": {"verdict": "ok", "rows": 600, "reasons": []}, "pcap": {"verdict": "degraded", "rows": 61, "reasons": ["the kernel dropped 1200 packets the capture could not keep up with"]}}}',
    '```',
    '',
    verifyReport.description!,
    '',
    fieldTable(verifyReport, { io: 'output', defaults: false }),
    '',
    '### each collector',
    '',
    fieldTable(collectorVerdict, { io: 'output', defaults: false }),
  ].join('\n') + '\n';
}
