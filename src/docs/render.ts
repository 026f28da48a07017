// docs/rows.md and docs/manifest.md, rendered from the zod schemas so the docs
// cannot drift from the code (test/docs/render.test.ts compares them).
import { z } from 'zod';
import { COLLECTOR_CONFIGS, KNOWN_COLLECTORS, manifestSchema } from '../manifest/schema.js';
import { SOURCES, envelope } from '../rows/envelope.js';
import { ROW_SHAPES } from '../rows/registry.js';
import { collectorVerdict, verifyReport } from '../verify/report.js';

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

function fieldTable(schema: z.ZodType, opts: { io: 'input' | 'output'; defaults: boolean }): string {
  const js = z.toJSONSchema(schema, { io: opts.io, unrepresentable: 'any' }) as JS;
  const required = new Set(js.required ?? []);
  const head = opts.defaults ? '| key | type | default | description |\n|---|---|---|---|' : '| field | type | description |\n|---|---|---|';
  const rows = Object.entries(js.properties ?? {}).map(([k, p]) => {
    const type = typeOf(p) + maxNote(p);
    const desc = cell(p.description ?? '');
    if (!opts.defaults) return `| \`${k}\` | ${cell(type)} | ${desc} |`;
    const def = p.default !== undefined ? `\`${JSON.stringify(p.default)}\`` : required.has(k) ? 'required' : '—';
    return `| \`${k}\` | ${cell(type)} | ${def} | ${desc} |`;
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
    '## Envelope (every row)',
    '',
    fieldTable(z.strictObject(envelope), { io: 'output', defaults: false }),
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
      out.push(fieldTable(shape.fields, { io: 'output', defaults: false }), '');
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
    '`target` is one of `{"pid": N}`, `{"pidfile": PATH}` or `{"qmp_socket": PATH}`.',
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
    'A collector **fails** when it wrote zero rows, when every row had null metrics, when rows fail their schema, when rows are missing (a gap in `seq`), when its file has lines that are not rows (a partial last line), or when summary.json says it failed. It is **degraded** when its values are real but the reader must know something: its rows stop for more than 3x its interval (proc, perf, pcap, qmp `interval_ms`; netflow `bucket_ms`; guest_agent channel rows), `t_mono_ns` goes backwards, drops were reported (the kernel\'s or the interface\'s capture drops, QMP events dropped, guest lines dropped), it restarted or reconnected, it reported errors, or it was skipped as optional.',
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
