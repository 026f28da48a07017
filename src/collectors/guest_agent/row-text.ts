// The guest rows as text (their exact size as written is the row writer's
// rowBytes(), src/rows/jsonl-writer.ts, so the byte budget is charged with
// what lands on disk). The guest's line is written as it came
// (validated, never serialized again): a row is the line plus an envelope
// of at most ROW_OVERHEAD_MAX bytes, whatever the line holds.

/**
 * Bytes a row adds to what the guest sent: the envelope (source, t_mono_ns,
 * seq, available_in_deployment), kind, the qga command, and guest_t (a copy
 * of at most 64 characters of the line, 6 bytes each escaped: 386 bytes).
 * About 530 at most; 1 KiB leaves room for t_mono_ns and seq of any length.
 */
export const ROW_OVERHEAD_MAX = 1024;

/** A jsonl line's row: `text` is the guest's validated line. */
export function lineMembers(text: string, guestT: number | string | null): string {
  return `"kind":"line","guest":${text},"guest_t":${JSON.stringify(guestT)}`;
}

/** A qga answer's row: `raw` is the answer's `return` as the agent wrote it. */
export function qgaMembers(command: string, raw: string): string {
  return `"kind":"qga","command":${JSON.stringify(command)},"result":${raw}`;
}
