// QmpLineHandler without a socket: the rate limit on its own clock, the
// queue's bounds, too-deep replies failing their command, problems counted
// by kind with one report each, and the shared depth scan and shallow scan
// it relies on.
import { describe, expect, it } from 'vitest';
import { QmpLineHandler } from '../../src/qmp/line-handler.js';
import { QmpProblems } from '../../src/qmp/problems.js';
import { shallowMembers } from '../../src/qmp/shallow-scan.js';
import { TokenBucket } from '../../src/qmp/token-bucket.js';
import { MAX_JSON_DEPTH, jsonDepthExceeds } from '../../src/util/json-depth.js';

const GREETING = '{"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7}, "package": ""}, "capabilities": ["oob"]}}\r\n';
const ev = (name: string, i: number) => `{"timestamp": {"seconds": 1796435008, "microseconds": ${i}}, "event": "${name}", "data": {"i": ${i}}}\r\n`;
const feed = (h: QmpLineHandler, s: string) => h.feed(Buffer.from(s, 'utf8'));

describe('QmpLineHandler', () => {
  // regression for: an event flood queued and written as fast as QEMU sends it (no rate limit).
  it('takes max_events_per_s events a second, bursts of one second, and counts the rest by name', () => {
    let now = 0;
    const h = new QmpLineHandler({ maxEventsPerS: 100, nowMs: () => now });
    feed(h, GREETING);
    feed(h, Array.from({ length: 1000 }, (_, i) => ev(i % 2 ? 'A' : 'B', i)).join(''));
    const first = h.takeEvents();
    expect(first).toHaveLength(100); // the burst: one second's worth
    expect(first.map((e) => (e.data as { i: number }).i)).toEqual(Array.from({ length: 100 }, (_, i) => i)); // the oldest kept
    expect(h.eventsRateLimited).toBe(900);
    expect(Object.fromEntries(h.droppedByName)).toEqual({ A: 450, B: 450 });
    now += 500; // half a second: 50 tokens
    feed(h, Array.from({ length: 80 }, (_, i) => ev('C', i)).join(''));
    expect(h.takeEvents()).toHaveLength(50);
    expect(h.droppedEvents).toBe(930);
  });

  // regression for: a queue bounded by count only, whose events each held up to 10 MiB of data.
  it('bounds the queue by count and by bytes, and keeps no event data over maxEventDataBytes', () => {
    const h = new QmpLineHandler({ maxEventsPerS: 1e9, maxQueuedEvents: 5, maxQueuedEventBytes: 1 << 20, maxEventDataBytes: 100 });
    feed(h, GREETING);
    feed(h, `{"event": "BIG", "data": {"blob": "${'z'.repeat(1000)}"}}\n`);
    feed(h, Array.from({ length: 10 }, (_, i) => ev('E', i)).join(''));
    const events = h.takeEvents();
    expect(events).toHaveLength(5);
    expect(events[0]).toMatchObject({ event: 'BIG', data: null, dataBytes: 1011 });
    expect(h.eventsQueueFull).toBe(6);
    const byBytes = new QmpLineHandler({ maxEventsPerS: 1e9, maxQueuedEvents: 1000, maxQueuedEventBytes: 2000, maxEventDataBytes: 64 << 10 });
    feed(byBytes, GREETING);
    feed(byBytes, Array.from({ length: 10 }, () => `{"event": "M", "data": "${'m'.repeat(1000)}"}\n`).join(''));
    expect(byBytes.queuedEvents).toBe(2); // the second took it past 2000 bytes; the rest wait for takeEvents()
    expect(byBytes.queuedEventBytes).toBeGreaterThanOrEqual(2000);
    expect(byBytes.eventsQueueFull).toBe(8);
  });

  // regression for: a reply too deep to parse leaving its command to wait out its timeout.
  it('fails the command a too-deep reply answers, at once, and counts it', () => {
    const h = new QmpLineHandler();
    feed(h, GREETING);
    const settled: string[] = [];
    h.expect('labtel-7', 'query-status', () => settled.push('resolved'), (e) => settled.push(e.message));
    h.expect('labtel-8', 'query-blockstats', () => settled.push('resolved 8'), (e) => settled.push(e.message));
    feed(h, `{"return": ${'['.repeat(MAX_JSON_DEPTH + 1)}${']'.repeat(MAX_JSON_DEPTH + 1)}, "id": "labtel-7"}\n`);
    expect(settled).toEqual(["query-status: QEMU's reply is nested deeper than 64 levels (not parsed)"]);
    expect(h.problems.snapshot()).toEqual({ too_deep: 1 });
    feed(h, '{"return": [], "id": "labtel-8"}\n');
    expect(settled.at(-1)).toBe('resolved 8');
    expect(h.pendingCount).toBe(0);
  });

  it('64 levels parse; 65 are too deep', () => {
    const h = new QmpLineHandler();
    feed(h, GREETING);
    const at = (n: number) => `{"event": "D", "data": ${'['.repeat(n - 1)}${']'.repeat(n - 1)}}\n`;
    feed(h, at(MAX_JSON_DEPTH));
    feed(h, at(MAX_JSON_DEPTH + 1));
    expect(h.takeEvents()).toHaveLength(1);
    expect(h.problems.snapshot()).toEqual({ too_deep: 1 });
  });

  // regression for: one report per bad line (100,000 lines: 100,000 collector_error rows).
  it('reports the first problem of each kind, with its message, and only counts the rest', () => {
    const reports: string[] = [];
    const problems = new QmpProblems((kind, m) => reports.push(`${kind}: ${m}`));
    const h = new QmpLineHandler({ problems });
    feed(h, GREETING);
    feed(h, 'x\n'.repeat(1000) + '[1]\n'.repeat(10) + '{"return": 1}\n' + '{"return": 1, "id": "nobody"}\n'.repeat(3));
    expect(reports).toEqual([
      'not_json: QMP sent a line that is not JSON: "x"',
      'not_object: QMP sent JSON that is not an object: "[1]"',
      'no_id: QMP sent a reply without an id',
      'unknown_id: QMP sent a reply for an unknown id "nobody"',
    ]);
    expect(problems.snapshot()).toEqual({ not_json: 1000, not_object: 10, no_id: 1, unknown_id: 3 });
    expect(problems.total).toBe(1014);
  });

  it('a greeting that is not one is fatal, named; a line over maxMessageBytes too', () => {
    const fatal: string[] = [];
    const h = new QmpLineHandler({ onFatal: (w) => fatal.push(w) });
    feed(h, '{"return": {}}\n{"QMP": {}}\n');
    expect(fatal).toEqual(['QEMU sent something other than a QMP greeting first']);
    expect(h.greeted).toBe(false); // nothing after the fatal line is handled
    const long = new QmpLineHandler({ maxMessageBytes: 100, onFatal: (w) => fatal.push(w) });
    feed(long, GREETING.slice(0, 60));
    feed(long, 'a'.repeat(60));
    expect(fatal[1]).toBe('QEMU sent a QMP message of more than 100 bytes (120 without a line end); disconnected');
    expect(long.bufferedBytes).toBe(0);
    expect(long.problems.snapshot()).toEqual({ too_long: 1 });
  });
});

describe('the scans a too-deep message needs', () => {
  it('jsonDepthExceeds: counts brackets outside strings only, and closing ones cannot hide an opening run', () => {
    expect(jsonDepthExceeds('[[[]]]', 3)).toBe(false);
    expect(jsonDepthExceeds('[[[[]]]]', 3)).toBe(true);
    expect(jsonDepthExceeds(`"${'['.repeat(100)}"`, 3)).toBe(false);
    expect(jsonDepthExceeds(`["\\"${'['.repeat(100)}"]`, 3)).toBe(false);
    expect(jsonDepthExceeds(`${']'.repeat(100)}${'['.repeat(5)}`, 3)).toBe(true);
    expect(jsonDepthExceeds('{"a": {"b": {"c": 1}}}', 3)).toBe(false);
    expect(jsonDepthExceeds('{"a": {"b": {"c": {}}}}', 3)).toBe(true);
  });

  it('shallowMembers: the top-level keys and a string id, whatever is nested between them', () => {
    const d = '['.repeat(1000) + ']'.repeat(1000);
    expect(shallowMembers(`{"return": ${d}, "id": "labtel-3"}`)).toEqual({ keys: new Set(['return', 'id']), id: 'labtel-3' });
    expect(shallowMembers(`{"id" : "x\\"y", "error": {"id": "inner"}}`)).toEqual({ keys: new Set(['id', 'error']), id: 'x"y' });
    expect(shallowMembers(`{"data": {"id": "inner"}, "event": "E"}`)).toEqual({ keys: new Set(['data', 'event']), id: null });
    expect(shallowMembers(`{"id": ${d}}`).id).toBeNull();
    expect(shallowMembers(`{"id": 7, "return": "id"}`).id).toBeNull();
    expect(shallowMembers('not json').keys.size).toBe(0);
  });

  it('TokenBucket: refills at its rate up to its burst, and a clock stepping back refills nothing', () => {
    let now = 1000;
    const b = new TokenBucket(10, () => now);
    let n = 0;
    while (b.take()) n++;
    expect(n).toBe(10);
    now += 250;
    n = 0;
    while (b.take()) n++;
    expect(n).toBe(2); // 2.5 tokens
    now -= 10_000;
    expect(b.take()).toBe(false);
    now += 100_000;
    n = 0;
    while (b.take()) n++;
    expect(n).toBe(10);
    expect(() => new TokenBucket(0)).toThrow('TokenBucket: expected a positive rate and a burst of at least 1, got 0/s and 0');
  });
});
