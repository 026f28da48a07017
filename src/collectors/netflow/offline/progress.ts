// A one-line progress display for a terminal: bytes, packets per second, ETA.
// Silent when stderr is not a TTY, so pipelines and logs stay clean.
const MB = 1024 * 1024;

export class Progress {
  private readonly start = performance.now();
  private last = 0;
  private readonly enabled: boolean;

  constructor(private readonly totalBytes: number, stream: NodeJS.WriteStream = process.stderr) {
    this.enabled = Boolean(stream.isTTY);
    this.stream = stream;
  }

  private readonly stream: NodeJS.WriteStream;

  update(bytes: number, packets: number, force = false): void {
    if (!this.enabled) return;
    const now = performance.now();
    if (!force && now - this.last < 200) return;
    this.last = now;
    const s = (now - this.start) / 1000;
    const pct = this.totalBytes ? Math.min(100, (100 * bytes) / this.totalBytes) : 100;
    const pps = s > 0 ? packets / s : 0;
    const eta = bytes > 0 && bytes < this.totalBytes ? ((this.totalBytes - bytes) * s) / bytes : 0;
    this.stream.write(
      `\r${pct.toFixed(0).padStart(3)}%  ${(bytes / MB).toFixed(1)}/${(this.totalBytes / MB).toFixed(1)} MB  ${(pps / 1e6).toFixed(2)} Mpps  ETA ${eta.toFixed(1)} s  `,
    );
  }

  done(): void {
    if (this.enabled) this.stream.write('\n');
  }
}
