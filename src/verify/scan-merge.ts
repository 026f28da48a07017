// Joins the scans of a file's two parts (src/verify/split-scan.ts) into the
// scan of the whole file, as one pass over it would have made it: at the
// join, each source's first seq, time and rhythm row of the second part are
// checked against the state the first part ended in (its edges), and what
// the parts counted is added up in file order. test/verify/scan-merge.test.ts
// holds the join to the one-pass scan at every line of hostile files.
import { MAX_IDENTITY_EVENTS, type FileScan, type SourceEdge, type SourceScan } from './scan-rows.js';

const NO_EDGE: SourceEdge = {
  nextSeq: 0, lastT: undefined, lastSilenceT: undefined, firstSeq: undefined, firstSeqLine: 0, firstT: undefined, firstTLine: 0, firstPickedT: undefined,
};

/**
 * The scan of a file from the scans of its head (scanned with a part, from its start) and its tail (scanned as a
 * continued part from the line after the head's last), or null when the tail cannot be joined exactly (a
 * source's first row in it has a seq that is no number: what is due after it depends on the head).
 */
export function mergeScans(head: FileScan, tail: FileScan): FileScan | null {
  if (!head.edges || !tail.edges || head.partialLastLine) return null;
  for (const e of tail.edges.values()) if (typeof e.firstSeq !== 'number') return null;
  const sources = new Map<string, SourceScan>();
  for (const [source, h] of head.sources) {
    const t = tail.sources.get(source);
    sources.set(source, t ? joinSource(h, head.edges.get(source)!, t, tail.edges.get(source)!) : h);
  }
  for (const [source, t] of tail.sources) if (!sources.has(source)) sources.set(source, joinSource(null, NO_EDGE, t, tail.edges.get(source)!));
  return {
    lines: head.lines + tail.lines,
    badLines: head.badLines + tail.badLines,
    firstBadLine: head.firstBadLine ?? tail.firstBadLine,
    partialLastLine: tail.partialLastLine,
    sources,
  };
}

function joinSource(h: SourceScan | null, he: SourceEdge, t: SourceScan, te: SourceEdge): SourceScan {
  // The tail's first row of the source, checked as scanFile's seqOf and timeOf would have after the head's last.
  let seqGaps = h?.seqGaps ?? 0;
  let firstGap = h?.firstGap ?? null;
  const due = he.nextSeq;
  if (te.firstSeq !== due) {
    seqGaps++;
    firstGap ??= `line ${te.firstSeqLine}: seq ${JSON.stringify(te.firstSeq)} where ${due} was due`;
  }
  let backwards = h?.backwards ?? 0;
  let firstBackwards = h?.firstBackwards ?? null;
  if (he.lastT !== undefined && te.firstT !== undefined && te.firstT < he.lastT) {
    backwards++;
    firstBackwards ??= `line ${te.firstTLine}: t_mono_ns ${te.firstT} after ${he.lastT}`;
  }
  let longestSilenceNs = h?.longestSilenceNs ?? 0;
  let silenceAt = h?.silenceAt ?? null;
  if (he.lastSilenceT !== undefined && te.firstPickedT !== undefined && te.firstPickedT - he.lastSilenceT > longestSilenceNs) {
    longestSilenceNs = te.firstPickedT - he.lastSilenceT;
    silenceAt = he.lastSilenceT;
  }
  // The tail's own longest silence is the first of its largest: it replaces the head's only when longer, as in one pass.
  if (t.longestSilenceNs > longestSilenceNs) {
    longestSilenceNs = t.longestSilenceNs;
    silenceAt = t.silenceAt;
  }
  const sum = (a: number[] | undefined, b: number[]) => b.map((x, i) => x + (a?.[i] ?? 0));
  return {
    rows: (h?.rows ?? 0) + t.rows,
    seqGaps: seqGaps + t.seqGaps,
    firstGap: firstGap ?? t.firstGap,
    backwards: backwards + t.backwards,
    firstBackwards: firstBackwards ?? t.firstBackwards,
    longestSilenceNs,
    silenceAt,
    schemaErrors: (h?.schemaErrors ?? 0) + t.schemaErrors,
    firstSchemaError: h?.firstSchemaError ?? t.firstSchemaError,
    stubs: (h?.stubs ?? 0) + t.stubs,
    firstStub: h?.firstStub ?? t.firstStub,
    valueRows: (h?.valueRows ?? 0) + t.valueRows,
    shapeRows: sum(h?.shapeRows, t.shapeRows),
    shapeValueRows: sum(h?.shapeValueRows, t.shapeValueRows),
    identityEvents: [...(h?.identityEvents ?? []), ...t.identityEvents].slice(0, MAX_IDENTITY_EVENTS),
    lastPicked: t.lastPicked ?? h?.lastPicked ?? null,
  };
}
