// When to ask query-migrate. A migration's figures change only while it
// runs; once QEMU answered that none has run, or that the last one
// completed, failed or was cancelled, the answer stays the same until a
// migration starts, and QEMU says so with a MIGRATION event (status setup)
// when its `events` capability is on. So query-migrate is asked on every
// poll, except that it is not asked while all of these hold:
// - the last answer on this connection was such a settled one, and it was
//   asked with the events capability already on (labtel's
//   migrate-set-capabilities took on an earlier poll), so a migration that
//   started before labtel connected, or before the capability was on, is
//   seen by an answer, never assumed away;
// - no MIGRATION or MIGRATION_PASS event came since that answer, and no
//   event was dropped since (a dropped one may have been a MIGRATION);
// - that answer is less than MIGRATE_RECHECK_MS old: another QMP client may
//   have turned the capability off (it is QEMU's, shared by all clients),
//   so a migration it then starts is seen within that time. An answer of
//   another status than the settled one, with no MIGRATION event since,
//   shows the capability off: labtel sets it again (poll.ts), and until it
//   took, no answer settles anything.
// A new connection starts over (PollState is per connection): events lost
// while disconnected cannot hide a migration. A poll that does not ask
// writes `migration` null with why, never the earlier answer.

/** What the run loop saw of one connection's events (noteEvents). */
export interface EventsSeen {
  /** MIGRATION and MIGRATION_PASS events taken. */
  migration: number;
  /** Events dropped on the connection so far (rate, bytes, queue). */
  dropped: number;
}

/** A query-migrate answer that stays true until a MIGRATION event: when it came, what it said, and the events seen then. */
export interface MigrateSettled {
  atMs: number;
  status: string;
  seen: EventsSeen;
}

/** query-migrate is asked at least this often, whatever the events say (ms). */
export const MIGRATE_RECHECK_MS = 10_000;
/** The statuses after which nothing changes until a new migration starts ('none': QEMU answered without a status). */
const SETTLED = new Set(['none', 'completed', 'failed', 'cancelled']);

/** The answer of a query-migrate asked at `atMs` (status undefined: not an answer to rely on), as a MigrateSettled or null. */
export function settledBy(status: string | undefined, eventsOn: boolean, atMs: number, seen: EventsSeen): MigrateSettled | null {
  return eventsOn && status !== undefined && SETTLED.has(status) ? { atMs, status, seen: { ...seen } } : null;
}

/** null: this poll asks query-migrate; else why it does not (the row's reason for `migration` null). */
export function migrateDue(st: { migrate: MigrateSettled | null; seen: EventsSeen; migrationEvents: true | string | null }, nowMs: number): string | null {
  const m = st.migrate;
  if (!m || st.migrationEvents !== true) return null;
  if (st.seen.migration !== m.seen.migration || st.seen.dropped !== m.seen.dropped) return null;
  const age = nowMs - m.atMs;
  if (age < 0 || age >= MIGRATE_RECHECK_MS) return null;
  const said = m.status === 'none' ? 'no migration has run on this QEMU' : `the last migration is ${m.status}`;
  return `not asked this poll: query-migrate said ${said} ${Math.round(age)} ms before it, and no MIGRATION event had come since (labtel turned MIGRATION events on; none dropped): labtel asks again after a MIGRATION event, a dropped event or a reconnect, and at least every ${MIGRATE_RECHECK_MS / 1000} s, as another QMP client can turn the events off`;
}

/** The run loop's count of the events it took (as they come, and before each poll's row), and of those dropped so far. */
export function noteEvents(seen: EventsSeen, events: ReadonlyArray<{ event: string }>, droppedSoFar: number): void {
  for (const e of events) if (e.event === 'MIGRATION' || e.event === 'MIGRATION_PASS') seen.migration++;
  seen.dropped = droppedSoFar;
}
