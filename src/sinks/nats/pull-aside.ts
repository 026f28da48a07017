// What `labtel pull` set aside: messages it terminated (never redelivered)
// instead of writing, counted by kind, with the first few subjects of each
// kind and why (bounded: a publisher sending millions keeps this small).
// The why is scrubbed: an error's text can carry a path or URL with a secret.
import { scrubSecrets } from '../../util/scrub-secrets.js';

export const ASIDE_KINDS = ['subject', 'not_a_row', 'wrong_source', 'seq_order', 'not_an_object', 'unwritable'] as const;
export type AsideKind = (typeof ASIDE_KINDS)[number];

/** What each kind means, for the CLI's report. */
export const ASIDE_MEANING: Record<AsideKind, string> = {
  subject: 'a subject that is not <prefix>.<host>.<episode>.<source> with plain names',
  not_a_row: 'not one JSON object per line with a seq',
  wrong_source: "rows of another source than the subject's",
  seq_order: 'seqs that do not increase within the message',
  not_an_object: 'an episode.json or summary.json that is not one JSON object',
  unwritable: 'could not be written where its subject says (the error is kept)',
};

/** Subjects kept per kind. */
export const ASIDE_KEPT = 5;

export interface AsideExample {
  subject: string;
  why: string;
}

export const noAside = (): Record<AsideKind, number> => Object.fromEntries(ASIDE_KINDS.map((k) => [k, 0])) as Record<AsideKind, number>;

export class SetAside {
  readonly counts = noAside();
  readonly examples: Partial<Record<AsideKind, AsideExample[]>> = {};

  add(kind: AsideKind, subject: string, why: string): void {
    this.counts[kind]++;
    const list = (this.examples[kind] ??= []);
    // A subject is at most what the server allows; cut it anyway, the report is for reading.
    if (list.length < ASIDE_KEPT) list.push({ subject: subject.length > 300 ? `${subject.slice(0, 300)}...` : subject, why: scrubSecrets(why).slice(0, 500) });
  }
}
