// When to ask the balloon's guest-stats. The guest sends its statistics
// every guest-stats-polling-interval (balloonPollS, set by labtel), and
// qom-get only returns what it last sent: asked more often, QEMU answers the
// same statistics. So guest-stats is asked once per balloonPollS (less half
// a poll interval, so that a poll a little early still asks), and a poll in
// between carries the last answer of this connection: its statistics are
// the guest's as of their last_update_s, which the row carries, and
// asked_ms_before (and a reason carried with them) says how long ago
// labtel asked. A failed ask is
// not carried: the next poll asks again. With the default interval_ms of
// 1000 (balloonPollS 1) every poll asks; at 500 ms every second poll.
import type { GuestStats } from './balloon.js';

/** What of a connection's poll state the schedule reads (PollState's fields). */
interface Schedule {
  guestStats: { atMs: number; g: GuestStats } | null;
  balloonPollS: number;
  intervalMs: number;
}

/** Whether this poll (at `nowMs`) asks guest-stats. */
export function guestStatsDue(st: Schedule, nowMs: number): boolean {
  const last = st.guestStats;
  if (!last) return true;
  const age = nowMs - last.atMs;
  return age < 0 || age >= st.balloonPollS * 1000 - st.intervalMs / 2;
}

/** The last answer, for a poll that does not ask: its reasons say when it was asked. */
export function carriedGuestStats(st: Schedule, nowMs: number): GuestStats {
  const { atMs, g } = st.guestStats!;
  const age = Math.max(0, Math.round(nowMs - atMs));
  const note = ` (as of qom-get guest-stats ${Math.round(nowMs - atMs)} ms before this poll: the guest sends its statistics every ${st.balloonPollS} s, and labtel asks that often)`;
  const reasons: Record<string, string> = {};
  for (const [k, v] of Object.entries(g.reasons)) reasons[k] = v + note;
  return { value: g.value && { ...g.value, asked_ms_before: age }, ...(g.why ? { why: g.why + note } : {}), reasons };
}
