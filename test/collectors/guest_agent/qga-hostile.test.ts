// A hostile qemu-guest-agent (a compromised guest answers for it), in a
// process of its own so that what it holds is not in the test's RSS: every
// answer a 3 MiB array of numbers JSON.stringify would write 5x longer,
// followed by 16 MiB of lines nobody asked for, with max_line_bytes at its
// largest (15 MiB). The session must hold a bounded number of bytes (answers
// read up to 4 MiB, at most 1 MiB of unasked lines queued), write answers as
// the agent sent them within the byte budget, give the answers past it a
// null row that says why, count them, report a handful of messages, and
// keep polling.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { guestAgentConfig } from '../../../src/collectors/guest_agent/config.js';
import { ROW_OVERHEAD_MAX } from '../../../src/collectors/guest_agent/row-text.js';
import { ROW_SCHEMAS } from '../../../src/rows/registry.js';
import { sampledGuestLoop, startHostileQga } from '../../helpers/hostile-qga.js';
import { tmpDir } from '../../helpers/tmp.js';
import { waitFor } from '../../helpers/wait.js';

const MiB = 1 << 20;
const ANSWER_BYTES = 3 * MiB;
const UNASKED_BYTES = 16 * MiB;

const AGENT = {
  setup: `
const [p, answerBytes, unaskedBytes] = process.argv.slice(1).map((x, i) => (i ? Number(x) : x));
const n = Math.floor((answerBytes - 14) / 5);
const answer = Buffer.from('{"return":[' + Array(n).fill('1e20').join(',') + ']}\\n');
const junkLine = Buffer.from('{"unasked":"' + 'x'.repeat(MiB() - 16) + '"}\\n');
function MiB() { return 1 << 20; }
`,
  answer: `
        await send(answer);
        for (let k = 0; k < unaskedBytes; k += junkLine.length) await send(junkLine);
`,
};

describe('guest_agent, protocol qga, against a hostile agent', () => {
  // Regression for: qga mode kept up to 64 lines of up to max_line_bytes (64 MiB allowed: 4 GiB), and an
  // answer of numbers was re-serialized into a row 4-5x its size, with no byte budget.
  it('3 MiB answers of numbers, each followed by 16 MiB of unasked lines, max_line_bytes 15 MiB (its largest): RSS bounded, rows as sent and within the budget, the rest null with the reason, polling goes on', async () => {
    const dir = tmpDir('labtel-qga-hostile-');
    const { socket } = await startHostileQga(dir, AGENT, [String(ANSWER_BYTES), String(UNASKED_BYTES)], 'the hostile agent to listen');
    const out = path.join(dir, 'rows.jsonl');
    const config = guestAgentConfig.parse({ socket, mode: 'connect', protocol: 'qga', interval_ms: 200, max_line_bytes: 15 * MiB });
    const { reports, stop } = sampledGuestLoop(config, out);
    const rows = () => {
      const t = fs.existsSync(out) ? fs.readFileSync(out, 'utf8') : '';
      const end = t.lastIndexOf('\n');
      return end < 0 ? [] : t.slice(0, end).split('\n').map((text) => ({ row: JSON.parse(text) as Record<string, unknown>, text }));
    };
    // Two answers written and one dropped past the budget: the budget both passed and held.
    await waitFor(() => {
      const q = rows().filter((r) => r.row.kind === 'qga');
      return q.filter((r) => r.row.result !== null).length >= 2 && q.some((r) => /was dropped/.test(String((r.row.null_reasons as Record<string, string> | undefined)?.result))) ? true : undefined;
    }, 'two answers written and one dropped past the budget');
    const { result, rss0, peak } = await stop();
    const all = rows();
    expect(all.map((r) => ROW_SCHEMAS.guest!.safeParse(r.row).error).filter(Boolean)).toEqual([]);
    const written = all.filter((r) => r.row.kind === 'qga' && r.row.result !== null);
    const nulls = all.filter((r) => r.row.kind === 'qga' && r.row.result === null);
    expect(written.length).toBeGreaterThanOrEqual(2);
    // Written as the agent sent it: the row is the answer's return plus at most the overhead.
    for (const r of written) {
      expect(Buffer.byteLength(r.text) + 1).toBeLessThanOrEqual(ANSWER_BYTES + ROW_OVERHEAD_MAX);
      expect(r.text).toContain('"result":[1e20,1e20,');
    }
    // Null rows: an answer past the budget, or (the agent still flooding when the next question goes out) an unasked line taken for its answer.
    const overBudget = nulls.filter((r) => /^guest-[a-z-]+: the answer \(\d+ bytes\) was dropped: past max_bytes_per_s \(1048576 bytes\/s\)$/.test((r.row.null_reasons as Record<string, string>).result!));
    expect(overBudget.length).toBeGreaterThan(0);
    // (possibly none: every other null reason must be one of these two)
    const otherReasons = nulls.filter((x) => !overBudget.includes(x)).map((r) => (r.row.null_reasons as Record<string, string>).result!);
    expect(otherReasons.filter((why) => !/^guest-[a-z-]+: (the agent answered with neither return nor error|no answer within 5000 ms)$/.test(why))).toEqual([]);
    expect(result.counters.dropped_byte_rate).toBe(overBudget.length);
    expect(result.counters.bytes_written).toBe(written.reduce((a, r) => a + Buffer.byteLength(r.text) + 1, 0));
    // Within the budget over their span: the bucket (one 4 MiB answer's row) plus 1 MiB/s.
    const span = ((written.at(-1)!.row.t_mono_ns as number) - (written[0]!.row.t_mono_ns as number)) / 1e9;
    expect(result.counters.bytes_written).toBeLessThanOrEqual(4 * MiB + ROW_OVERHEAD_MAX + MiB * span);
    // Held at any time: the line being read (at most 4 MiB, not max_line_bytes' 15), at most 1 MiB of lines
    // queued during a sync, the answer being judged and its row. RSS grows by more: each answer judged
    // (a 3 MiB line, decoded, parsed and written; a 1 MiB unasked line taken for the next answer) is
    // garbage until V8 collects it. Seen: 152 MiB (288 MiB before, 25 rows in). A guard against growth
    // without bound (before: up to 64 queued lines of max_line_bytes each), not a tight bound.
    expect(peak - rss0, `RSS growth ${((peak - rss0) / MiB).toFixed(1)} MiB`).toBeLessThan(256 * MiB);
    // A handful of messages: the budget's, and the unasked lines' (each at 1, 10, 100, ... of its count).
    const budgetTold = reports.filter((m) => m.includes('max_bytes_per_s'));
    expect(budgetTold.length).toBeGreaterThan(0);
    expect(budgetTold.length).toBeLessThanOrEqual(3);
    for (const m of budgetTold) expect(m).toMatch(/^guest_agent: the guest sent more than max_bytes_per_s \(1048576 bytes\/s\): qga answers dropped \(\d+ so far, counted in dropped_byte_rate\)$/);
    const unaskedTold = reports.filter((m) => !m.includes('max_bytes_per_s'));
    expect(unaskedTold.length).toBeLessThanOrEqual(Math.log10(Math.max(1, result.counters.dropped_unasked)) + 1);
    // (possibly none told yet: every one told must say this)
    expect(unaskedTold.filter((m) => !/^guest_agent: the agent sent lines nobody asked for \(not an answer to labtel's question, or late\): dropped \(\d+ so far, counted in dropped_unasked\)$/.test(m))).toEqual([]);
    // The 16 MiB after each answer are dropped as nobody asked for them, and counted (the first after an answer may be taken for the next one).
    expect(result.counters.dropped_unasked).toBeGreaterThan(0);
    expect(all.filter((r) => r.row.kind === 'channel').length).toBeGreaterThan(0);
  });
});
