// A qemu-guest-agent (a compromised guest answers for it) that talks out of
// turn: after each poll's last answer it sends 16 lines of 512 KiB nobody
// asked for, three polls running. labtel must drop them without writing or
// holding them, count every one in dropped_unasked (channel rows and the
// result summary.json gets), say so in a handful of messages, and keep
// polling. The agent runs in a process of its own, so what it holds is not
// in the test's RSS.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { guestAgentConfig } from '../../../src/collectors/guest_agent/config.js';
import { QgaSession } from '../../../src/collectors/guest_agent/qga-session.js';
import { guestAgentSpec } from '../../../src/collectors/guest_agent/spec.js';
import { ROW_SCHEMAS } from '../../../src/rows/registry.js';
import { sampledGuestLoop, startHostileQga } from '../../helpers/hostile-qga.js';
import { readJsonl, tmpDir } from '../../helpers/tmp.js';
import { waitFor } from '../../helpers/wait.js';

const MiB = 1 << 20;
const JUNK_PER_POLL = 16;
const JUNK_POLLS = 3;

const AGENT = {
  setup: `
const [p, perPoll, polls] = process.argv.slice(1).map((x, i) => (i ? Number(x) : x));
const junk = Buffer.from('{"unasked":"' + 'x'.repeat((512 << 10) - 16) + '"}\\n');
let batches = 0;
`,
  answer: `
        await send(req.execute === 'guest-get-osinfo' ? '{"return":{"name":"Hostile"}}\\n' : '{"return":[{"cpu":0,"user":' + Date.now() + '}]}\\n');
        if (req.execute !== 'guest-get-memory-blocks' || batches >= polls) return;
        // Out of turn: while labtel sleeps until its next poll.
        await new Promise((r) => setTimeout(r, 20));
        for (let k = 0; k < perPoll; k++) await send(junk);
        process.stdout.write('batch ' + ++batches + '\\n');
`,
};

describe('guest_agent, protocol qga, an agent sending lines nobody asked for', () => {
  // regression for: QgaSession dropped unasked lines and kept a count nobody read: 24 MiB from the guest
  // vanished with no counter in the channel rows or summary.json, and no message.
  it('48 lines of 512 KiB out of turn: each dropped and counted in dropped_unasked (rows, result, verify), two messages, nothing held or written, polling goes on', async () => {
    const dir = tmpDir('labtel-qga-unasked-');
    const { socket, said } = await startHostileQga(dir, AGENT, [String(JUNK_PER_POLL), String(JUNK_POLLS)], 'the agent to listen');
    const out = path.join(dir, 'rows.jsonl');
    const config = guestAgentConfig.parse({ socket, mode: 'connect', protocol: 'qga', interval_ms: 1000 });
    const { reports, stop } = sampledGuestLoop(config, out);
    const answered = () => (fs.existsSync(out) ? fs.readFileSync(out, 'utf8').split('\n').filter((l) => l.includes('"command":"guest-get-memory-blocks"') && !l.includes('"result":null')).length : 0);
    // The agent sent its last batch after the third poll's last answer: two more polls show labtel went on past it.
    await waitFor(() => (said().includes(`batch ${JUNK_POLLS}`) && answered() >= JUNK_POLLS + 2 ? true : undefined), 'two polls answered after the last batch of unasked lines', 50);
    const { result, rss0, peak } = await stop();

    const rows = readJsonl(out);
    expect(rows.map((r) => ROW_SCHEMAS.guest!.safeParse(r).error).filter(Boolean)).toEqual([]);
    const qga = rows.filter((r) => r.kind === 'qga');
    expect(qga.length).toBeGreaterThanOrEqual(1 + 3 * (JUNK_POLLS + 2)); // guest-get-osinfo once, then 3 a poll
    // No unasked line was taken for an answer: every command got its own answer.
    for (const r of qga) expect(r.result, `${r.command}: ${JSON.stringify(r.null_reasons)}`).not.toBeNull();
    const sent = JUNK_PER_POLL * JUNK_POLLS;
    expect(result.counters.dropped_unasked, 'the result (summary.json detail)').toBe(sent);
    const channels = rows.filter((r) => r.kind === 'channel');
    expect(channels.length).toBeGreaterThan(0);
    expect(channels.at(-1)!.dropped_unasked, 'the final channel row').toBe(sent);
    expect(result.counters.bytes).toBeGreaterThan(sent * 512 * 1024);
    expect(guestAgentSpec.verify!.drops!(channels.at(-1)!)).toEqual([`the guest channel dropped ${sent} lines (unasked: ${sent})`]);
    // Nothing of them written: the file holds the small answers and channel rows only (24 MiB were sent).
    expect(fs.statSync(out).size).toBeLessThan(64 * 1024);
    expect(rows.some((r) => JSON.stringify(r).includes('"unasked":"x'))).toBe(false);
    // Nor held: each line is dropped as it ends (the reader holds one line of at most 1 MiB). A guard against
    // holding them all (24 MiB), not a tight bound.
    expect(peak - rss0, `RSS growth ${((peak - rss0) / MiB).toFixed(1)} MiB`).toBeLessThan(20 * MiB);
    const told = reports.filter((m) => m.includes('dropped_unasked'));
    expect(told).toEqual([1, 10].map((k) => `guest_agent: the agent sent lines nobody asked for (not an answer to labtel's question, or late): dropped (${k} so far, counted in dropped_unasked)`));
  }, 60_000);
});

describe('QgaSession: what counts as unasked during a sync', () => {
  // regression for: a real qemu-ga answers the 0xFF of guest-sync-delimited with a parse error line (seen here:
  // {"error": {"class": "GenericError", "desc": "JSON parse error, stray '\uFFFD'"}}); counting it as unasked
  // made every qga episode report a drop (the real-agent emit test caught it).
  it("qemu-ga's one error line answering the 0xFF is not counted; a second line before the sync's answer is", async () => {
    const sent: Buffer[] = [];
    let counted = 0;
    const s = new QgaSession((b) => sent.push(b), () => counted++);
    const answer = s.execute('guest-get-cpustats');
    expect(sent.length).toBe(1);
    const id = (JSON.parse(sent[0]!.subarray(1).toString()) as { arguments: { id: number } }).arguments.id;
    s.onLine(Buffer.from(`{"error": {"class": "GenericError", "desc": "JSON parse error, stray '\uFFFD'"}}`));
    expect(counted).toBe(0);
    s.onLine(Buffer.from('{"error": {"class": "GenericError", "desc": "again"}}'));
    s.onLine(Buffer.from('{"late":1}'));
    expect(counted).toBe(2);
    s.onLine(Buffer.concat([Buffer.from([0xff]), Buffer.from(`{"return": ${id}}`)]));
    await new Promise((r) => setImmediate(r));
    s.onLine(Buffer.from('{"return":[1]}'));
    expect(await answer).toEqual({ value: [1], raw: '[1]' });
    expect(counted).toBe(2);
    expect(s.unasked).toBe(2);
  });
});
