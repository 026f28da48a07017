// tcpdump's statistics, as it prints them on SIGUSR1 (one line:
// "tcpdump: 5 packets captured, 5 packets received by filter, 0 packets
// dropped by kernel[, 2 packets dropped by interface]") and at exit (the
// same counts, one per line). The interface count is printed only when it is
// not 0, so its absence is tcpdump reporting 0.

export interface TcpdumpStats {
  captured: number;
  received: number;
  kernelDrops: number;
  ifDrops: number;
  /** The multi-line form tcpdump prints as it exits (the run's final counts). */
  atExit: boolean;
}

const COUNT = {
  captured: /(\d+) packets? captured/,
  received: /(\d+) packets? received by filter/,
  kernelDrops: /(\d+) packets? dropped by kernel/,
  ifDrops: /(\d+) packets? dropped by interface/,
} as const;

/** Collects statistics from tcpdump's stderr lines; `take()` returns each complete set once. */
export class TcpdumpStatsReader {
  private partial: Partial<Record<keyof typeof COUNT, number>> = {};
  private done: TcpdumpStats[] = [];

  /** Feeds one stderr line; returns whether it was a statistics line. */
  line(text: string): boolean {
    let hit = false;
    for (const [k, re] of Object.entries(COUNT) as Array<[keyof typeof COUNT, RegExp]>) {
      const m = re.exec(text);
      if (!m) continue;
      if (k === 'captured' && this.partial.captured !== undefined) this.complete(true);
      this.partial[k] = Number(m[1]);
      hit = true;
    }
    // The one-line form is whole at its end; the exit form ends with stderr.
    if (hit && COUNT.captured.test(text) && COUNT.kernelDrops.test(text)) this.complete(false);
    return hit;
  }

  /** The end of stderr: the exit form is complete. */
  end(): void {
    if (this.partial.captured !== undefined) this.complete(true);
  }

  take(): TcpdumpStats[] {
    const d = this.done;
    this.done = [];
    return d;
  }

  private complete(atExit: boolean): void {
    const p = this.partial;
    this.partial = {};
    if (p.captured === undefined || p.received === undefined || p.kernelDrops === undefined) return;
    this.done.push({ captured: p.captured, received: p.received, kernelDrops: p.kernelDrops, ifDrops: p.ifDrops ?? 0, atExit });
  }
}
