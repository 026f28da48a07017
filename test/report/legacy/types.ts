// Frozen copy of src/report/types.ts as of da5b2d9 (before the one-pass report): the old path, kept only for
// test/report/one-pass.test.ts, which holds the new report to its bytes. Do not edit.
// What the report draws: panels of series on the episode clock, and markers.

export interface Panel {
  id: string;
  title: string;
  unit: string;
  labels: string[];
  /** data[0]: x in seconds; data[1..]: one array per label. null is a gap: not measured, or no rate could be made. */
  data: Array<Array<number | null>>;
  /** What the reader must know about the values: what was dropped, what breaks the lines. */
  notes: string[];
}

/**
 * A vertical line with a label. 'event': a QMP event, on every panel.
 * 'break': the series could not go on (a restart, a reconnect, a missing
 * answer, lost rows, a silence). 'dropped': a value that could not be true.
 */
export interface Marker {
  t: number;
  label: string;
  kind: 'event' | 'break' | 'dropped';
  /** The panels it is drawn on; null: every panel. */
  panels: string[] | null;
}
