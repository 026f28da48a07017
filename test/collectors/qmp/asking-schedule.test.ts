// How often the poll asks what changes slowly, against a real QEMU (TCG,
// paused) with the commands it is sent recorded: the balloon's guest-stats
// once per guest-stats-polling-interval (the guest sends nothing newer in
// between), query-migrate only while a migration may have changed (a settled
// answer asked with MIGRATION events on, no MIGRATION event or drop since,
// younger than MIGRATE_RECHECK_MS). A poll that does not ask says so in the
// row's reasons; a migration that started before labtel connected is asked
// about on every poll. The clock of the schedule is the test's own (no timing).
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { EpisodeClock } from '../../../src/clock/origin.js';
import { carriedGuestStats, guestStatsDue } from '../../../src/collectors/qmp/balloon-schedule.js';
import { MIGRATE_RECHECK_MS, migrateDue, noteEvents, settledBy } from '../../../src/collectors/qmp/migrate-schedule.js';
import { newPollState, pollQemu, type PollState } from '../../../src/collectors/qmp/poll.js';
import { qmpLoop } from '../../../src/collectors/qmp/run-loop.js';
import { QmpClient } from '../../../src/qmp/client.js';
import { JsonlWriter } from '../../../src/rows/jsonl-writer.js';
import { ROW_SCHEMAS } from '../../../src/rows/registry.js';
import { hasQemu, startQemu } from '../../helpers/qemu.js';
import { readJsonl, tmpDir } from '../../helpers/tmp.js';
import { waitFor } from '../../helpers/wait.js';

type Row = Record<string, unknown>;

/** A client of `socket` whose commands are recorded (qom-get by its property), and a poll at the test's time. */
async function recorded(socket: string, intervalMs: number) {
  const c = await QmpClient.connect({ path: socket });
  const asked: string[] = [];
  const execute = c.execute.bind(c);
  c.execute = ((command: string, args?: Record<string, unknown>, o?: never) => {
    asked.push(command === 'qom-get' ? `qom-get ${String(args?.property)}` : command);
    return execute(command, args, o);
  }) as typeof c.execute;
  let t = 0;
  const st = newPollState({ intervalMs, nowMs: () => t });
  const poll = async (at: number) => {
    t = at;
    noteEvents(st.seen, c.takeEvents(), c.droppedEvents); // as the run loop does
    const p = await pollQemu(c, st, { ms: 5000 });
    expect(ROW_SCHEMAS.qmp!.safeParse({ source: 'qmp', t_mono_ns: 1, seq: 0, available_in_deployment: true, ...p.fields, poll_ms: 1, events_dropped: 0, ...(Object.keys(p.reasons).length ? { null_reasons: p.reasons } : {}) }).error).toBeUndefined();
    return p;
  };
  const count = (cmd: string) => asked.filter((a) => a === cmd).length;
  return { c, st, poll, count, asked };
}

const slowMigration = async (driver: QmpClient) => {
  await driver.execute('stop');
  await driver.execute('migrate-set-parameters', { 'max-bandwidth': 256 << 10 });
  await driver.execute('migrate', { uri: 'exec:cat > /dev/null' });
};

describe.skipIf(!hasQemu())('what the poll asks, and how often, against a real QEMU', () => {
  // regression for: qom-get guest-stats on every poll, though the guest refreshes them only every guest-stats-polling-interval.
  it('guest-stats once per guest-stats-polling-interval (1 s at a 500 ms interval); the polls between carry the answer, saying how old it is', async () => {
    const q = await startQemu({ args: ['-device', 'virtio-balloon-pci,id=balloon0'] });
    const r = await recorded(q.qmp, 500);
    try {
      const rows = [];
      for (const at of [0, 500, 1000, 1500, 2000, 2750]) rows.push(await r.poll(at));
      expect(await q.driver.execute('qom-get', { path: '/machine/peripheral/balloon0', property: 'guest-stats-polling-interval' })).toBe(1);
      // Asked at 0 (after the balloon was found), 1000, 2000 and 2750 (under 1 s after 2000, but half an interval early is on time).
      expect(r.count('qom-get guest-stats')).toBe(4);
      expect(rows.map((p) => p.fields.balloon_guest)).toEqual([null, null, null, null, null, null]); // no guest driver: last-update 0
      expect(rows[0]!.reasons.balloon_guest).toMatch(/^the guest has sent no memory statistics \(last-update 0\)/);
      expect(rows[1]!.reasons.balloon_guest).toMatch(/^the guest has sent no memory statistics \(last-update 0\).* \(as of qom-get guest-stats 500 ms before this poll: the guest sends its statistics every 1 s, and labtel asks that often\)$/);
      expect(rows[2]!.reasons.balloon_guest).not.toMatch(/as of qom-get/);
    } finally {
      r.c.close();
    }
  });

  // regression for: query-migrate on every poll with no migration anywhere (a wake-up of QEMU's main loop each poll).
  it('query-migrate: asked until a settled answer came with events on, then only after a MIGRATION event (or every 10 s); the rows between say why not', async () => {
    const q = await startQemu();
    const r = await recorded(q.qmp, 500);
    try {
      const p0 = await r.poll(0); // events not on yet when asked: not settled
      expect(p0.fields.migration_events).toBe(true);
      const p1 = await r.poll(500); // asked with events on: settled
      expect(p1.reasons.migration).toBe('no migration has run on this QEMU (query-migrate answered without a status)');
      expect(r.count('query-migrate')).toBe(2);
      const p2 = await r.poll(1000);
      expect(r.count('query-migrate')).toBe(2);
      expect(p2.fields.migration).toBeNull();
      expect(p2.reasons.migration).toMatch(/^not asked this poll: query-migrate said no migration has run on this QEMU 500 ms before it, and no MIGRATION event had come since/);
      await r.poll(500 + MIGRATE_RECHECK_MS - 1);
      expect(r.count('query-migrate')).toBe(2);
      await r.poll(500 + MIGRATE_RECHECK_MS); // 10 s old: asked again, whatever the events
      expect(r.count('query-migrate')).toBe(3);

      // A migration starts: its MIGRATION event makes the next poll ask.
      await slowMigration(q.driver);
      await waitFor(() => (noteEvents(r.st.seen, r.c.takeEvents(), r.c.droppedEvents), r.st.seen.migration > 0), 'a MIGRATION event');
      const running = await r.poll(11_000);
      expect(r.count('query-migrate')).toBe(4);
      expect(['setup', 'active']).toContain((running.fields.migration as Row).status);
      await r.poll(11_500); // running: asked on every poll
      expect(r.count('query-migrate')).toBe(5);

      // Cancelled: asked until the answer says so, then not.
      await q.driver.execute('migrate_cancel');
      let t = 12_000;
      let last = await r.poll(t);
      for (let i = 0; i < 100 && (last.fields.migration as Row | null)?.status !== 'cancelled'; i++) {
        await new Promise((res) => setTimeout(res, 50));
        last = await r.poll((t += 500));
      }
      expect((last.fields.migration as Row).status).toBe('cancelled');
      const asked = r.count('query-migrate');
      await waitFor(() => (noteEvents(r.st.seen, r.c.takeEvents(), r.c.droppedEvents), r.st.seen.migration >= 2), 'MIGRATION events of the cancel');
      // (a MIGRATION event noted after the cancelled answer makes one more poll ask; after it, none)
      let quiet = await r.poll((t += 500));
      if (quiet.fields.migration !== null) quiet = await r.poll((t += 500));
      expect(quiet.fields.migration).toBeNull();
      expect(quiet.reasons.migration).toMatch(/^not asked this poll: query-migrate said the last migration is cancelled/);
      expect(r.count('query-migrate')).toBeLessThanOrEqual(asked + 1);
    } finally {
      r.c.close();
    }
  });

  // regression for: another QMP client turned the (shared) events capability off and started a migration; labtel's
  // schedule kept saying "settled", its rows said migration_events true, and after the re-ask found it running, the
  // next migration was hidden for up to 10 s again.
  it('events turned off by another client: the re-ask that finds a migration without its event sets them again; the polls after it ask', async () => {
    const q = await startQemu();
    const r = await recorded(q.qmp, 500);
    try {
      await r.poll(0);
      await r.poll(500); // settled, events on
      expect(r.count('query-migrate')).toBe(2);
      expect(r.count('migrate-set-capabilities')).toBe(1);
      await q.driver.execute('migrate-set-capabilities', { capabilities: [{ capability: 'events', state: false }] });
      await slowMigration(q.driver);
      const hidden = await r.poll(1000); // not asked: no event could come
      expect(hidden.reasons.migration).toMatch(/as another QMP client can turn the events off$/);
      const found = await r.poll(500 + MIGRATE_RECHECK_MS);
      expect(['setup', 'active']).toContain((found.fields.migration as Row).status);
      // The capability is set again (QEMU refuses during a migration: the row says so), and no answer settles anything.
      expect(r.count('migrate-set-capabilities')).toBe(2);
      expect(found.fields.migration_events).toBeNull();
      expect(found.reasons.migration_events).toMatch(/^migrate-set-capabilities/);
      const asked = r.count('query-migrate');
      await r.poll(11_000);
      await r.poll(11_500);
      expect(r.count('query-migrate')).toBe(asked + 2);
      await q.driver.execute('migrate_cancel');
    } finally {
      r.c.close();
    }
  });

  // regression guard: a migration that started before labtel connected is never assumed away (events could not tell of its start).
  it('a migration started before labtel connected: asked on every poll, active in each row', async () => {
    const q = await startQemu();
    await slowMigration(q.driver);
    const r = await recorded(q.qmp, 500);
    try {
      const rows = [];
      for (const at of [0, 500, 1000, 1500]) rows.push(await r.poll(at));
      expect(r.count('query-migrate')).toBe(4);
      for (const p of rows) expect(['setup', 'active']).toContain((p.fields.migration as Row).status);
      await q.driver.execute('migrate_cancel');
    } finally {
      r.c.close();
    }
  });

  // regression for: the run loop not telling the poll of MIGRATION events (it would wait out MIGRATE_RECHECK_MS).
  it('the collector: settled rows say not asked; the qmp row after the MIGRATION event (at most one later) asked and shows it running', async () => {
    const q = await startQemu();
    const out = path.join(tmpDir(), 'telemetry-qmp.jsonl');
    const writer = new JsonlWriter(out, { availableInDeployment: true });
    const clock = new EpisodeClock(process.hrtime.bigint(), BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint());
    const ac = new AbortController();
    const loop = qmpLoop({ socket: q.qmp, intervalMs: 200, pid: q.pid, writer, clock, signal: ac.signal });
    const rows = (): Row[] => {
      writer.flush();
      return fs.existsSync(out) ? readJsonl(out) : [];
    };
    await waitFor(() => rows().some((x) => x.source === 'qmp' && /^not asked this poll/.test(((x.null_reasons ?? {}) as Record<string, string>).migration ?? '')), 'a qmp row that did not ask query-migrate');
    await slowMigration(q.driver);
    const qmpAfterEvent = () => {
      const all = rows();
      const i = all.findIndex((x) => x.source === 'qmp_event' && x.event === 'MIGRATION');
      return i < 0 ? [] : all.slice(i).filter((x) => x.source === 'qmp');
    };
    await waitFor(() => qmpAfterEvent().length >= 2, 'two qmp rows after the first MIGRATION event');
    await q.driver.execute('migrate_cancel');
    ac.abort();
    await loop;
    writer.close();
    const all = rows();
    const firstEvent = all.findIndex((x) => x.source === 'qmp_event' && x.event === 'MIGRATION');
    expect(firstEvent).toBeGreaterThan(0);
    const after = all.slice(firstEvent).filter((x) => x.source === 'qmp').slice(0, 2);
    expect(after.length).toBe(2);
    expect(after.map((x) => (x.migration as Row | null)?.status)).toEqual(expect.arrayContaining([expect.stringMatching(/^(setup|active)$/)]));
    expect(all.length).toBeGreaterThan(0);
    for (const x of all) expect(ROW_SCHEMAS[x.source as 'qmp']!.safeParse(x).error).toBeUndefined();
  });
});

describe('the schedules alone', () => {
  const st = (o: Partial<PollState> = {}) => ({ ...newPollState({ intervalMs: 500 }), ...o });
  it('a dropped event (it may have been a MIGRATION) or another connection makes the poll ask', () => {
    const s = st({ migrationEvents: true });
    s.migrate = settledBy('completed', true, 0, s.seen);
    expect(migrateDue(s, 100)).toMatch(/^not asked this poll: query-migrate said the last migration is completed 100 ms before it/);
    noteEvents(s.seen, [], 1);
    expect(migrateDue(s, 200)).toBeNull();
    expect(settledBy('active', true, 0, s.seen)).toBeNull();
    expect(settledBy('none', false, 0, s.seen)).toBeNull(); // asked before events were on
    expect(migrateDue(st({ migrationEvents: true }), 100)).toBeNull(); // a new connection: nothing settled
  });

  it('carried guest statistics keep their values and last_update_s; asked_ms_before and their reasons say how old the answer is', () => {
    const s = st();
    s.guestStats = { atMs: 1000, g: { value: { last_update_s: 1700000000, asked_ms_before: 0, free_memory_bytes: 5, hugetlb_failures: null }, reasons: { 'balloon_guest.hugetlb_failures': 'the guest did not provide stat-htlb-pgfail (QEMU reports -1)' } } };
    expect(guestStatsDue(s, 1500)).toBe(false);
    expect(guestStatsDue(s, 1750)).toBe(true);
    expect(guestStatsDue(s, 900)).toBe(true); // an earlier time: not trusted
    const c = carriedGuestStats(s, 1500);
    // Regression for: a carried answer with every statistic present had no reason, so it could not be told from a fresh one.
    expect(c.value).toEqual({ last_update_s: 1700000000, asked_ms_before: 500, free_memory_bytes: 5, hugetlb_failures: null });
    expect(c.reasons['balloon_guest.hugetlb_failures']).toBe('the guest did not provide stat-htlb-pgfail (QEMU reports -1) (as of qom-get guest-stats 500 ms before this poll: the guest sends its statistics every 1 s, and labtel asks that often)');
  });
});
