// What can be wrong in what QEMU sends on its QMP socket, as a fixed set of
// kinds, counted. A hostile QEMU can send a million bad lines: each is one
// increment here, and only the first of each kind is reported in words, so
// the agent's log and rows grow with the number of kinds, never with the
// number of lines.

/** Every kind of problem, with what it means (the row schema and the README are built from these words). */
export const QMP_PROBLEM_KINDS = {
  too_long: 'a message longer than the client takes (10 MiB): the connection was dropped and labtel reconnected',
  too_deep: 'a message nested deeper than 64 levels: not parsed (a reply fails its command at once)',
  not_json: 'a line that is not JSON',
  not_object: 'JSON that is not an object (an array, a string, a number)',
  bad_greeting: "a first message that is not QMP's greeting: the connection was dropped",
  no_id: 'a reply or error without an id',
  unknown_id: 'a reply or error for an id labtel is not waiting for (never asked, or already timed out)',
  neither_event_nor_reply: 'an object with no event name, return or error',
  bad_qom_name: "a QOM child name (qom-list) that is not a QEMU id or device[N]: skipped, never put in a path labtel sends",
  internal: "an exception in labtel's own handling of a message, a poll or an event (a bug; the collector carried on)",
} as const;

export type QmpProblemKind = keyof typeof QMP_PROBLEM_KINDS;
export const QMP_PROBLEM_KIND_NAMES = Object.keys(QMP_PROBLEM_KINDS) as QmpProblemKind[];

/**
 * Counts problems by kind over one collector run (all its connections) and
 * reports the first of each kind, with its message, through `report`. The
 * message is a function so that a flood of one kind builds no strings.
 */
export class QmpProblems {
  private readonly counts = new Map<QmpProblemKind, number>();

  constructor(private readonly report: (kind: QmpProblemKind, message: string) => void = () => {}) {}

  add(kind: QmpProblemKind, message: () => string): void {
    const n = (this.counts.get(kind) ?? 0) + 1;
    this.counts.set(kind, n);
    if (n !== 1) return;
    let m: string;
    try {
      m = message();
    } catch (err) {
      m = `(its message could not be built: ${String((err as Error)?.message ?? err).slice(0, 200)})`;
    }
    this.report(kind, m);
  }

  count(kind: QmpProblemKind): number {
    return this.counts.get(kind) ?? 0;
  }

  get total(): number {
    let t = 0;
    for (const n of this.counts.values()) t += n;
    return t;
  }

  /** The counts of the kinds seen so far (none: {}), in the fixed order of the kinds. */
  snapshot(): Partial<Record<QmpProblemKind, number>> {
    const o: Partial<Record<QmpProblemKind, number>> = {};
    for (const k of QMP_PROBLEM_KIND_NAMES) {
      const n = this.counts.get(k);
      if (n) o[k] = n;
    }
    return o;
  }
}
