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
}

const COUNT = {
  captured: /(\d+) packets? captured/,
  received: /(\d+) packets? received by filter/,
  kernelDrops: /(\d+) packets? dropped by kernel/,
  ifDrops: /(\d+) packets? dropped by interface/,
} as const;

/** Collects statistics from tcpdump's stderr lines; `take()` returns each complete set once. */
export class TcpdumpStatsReader {
  private partial: Partial<TcpdumpStats> = {};
  private done: TcpdumpStats[] = [];

  /** Feeds one stderr line; returns whether it was a statistics line. */
  line(text: string): boolean {
    let hit = false;
    for (const [k, re] of Object.entries(COUNT) as Array<[keyof TcpdumpStats, RegExp]>) {
      const m = re.exec(text);
      if (!m) continue;
      if (k === 'captured' && this.partial.captured !== undefined) this.complete();
      this.partial[k] = Number(m[1]);
      hit = true;
    }
    // The one-line form is whole at its end; the exit form ends with stderr.
    if (hit && COUNT.captured.test(text) && COUNT.kernelDrops.test(text)) this.complete();
    return hit;
  }

  /** The end of stderr: the exit form is complete. */
  end(): void {
    if (this.partial.captured !== undefined) this.complete();
  }

  take(): TcpdumpStats[] {
    const d = this.done;
    this.done = [];
    return d;
  }

  private complete(): void {
    const p = this.partial;
    this.partial = {};
    if (p.captured === undefined || p.received === undefined || p.kernelDrops === undefined) return;
    this.done.push({ captured: p.captured, received: p.received, kernelDrops: p.kernelDrops, ifDrops: p.ifDrops ?? 0 });
  }
}
