// regression for: a collector's worker closed another thread's file at its exit. Node's workers track every
// descriptor their thread opens with fs.open*/openSync and close the ones still "open" when the thread ends;
// pcap's FIFO drain opens its read end with fs.openSync and hands it to a net.Socket, whose destroy closes it
// through libuv without Node untracking it. The number was then reused by another thread (a JSONL writer, libuv's
// signal pipe) and closed under it when pcap's worker ended: EBADF, or in a vitest run "File descriptor 31 opened
// in unmanaged mode twice" and a libuv assertion in uv__signal_handler that aborted the process.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { CollectorRun } from '../../../src/agent/collector-run.js';
import { tmpDir } from '../../helpers/tmp.js';

const FIXTURE = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'fixtures', 'fifo-drain-fd-collector', 'collector.ts');

describe("the FIFO drain's descriptor on a collector's worker", () => {
  it("is not closed again when the worker ends: a descriptor of the same number another thread opened since survives", async () => {
    const dir = tmpDir();
    let reported: (m: string) => void;
    const drained = new Promise<string>((resolve) => (reported = resolve));
    const run = new CollectorRun(
      'pcap',
      [],
      {
        name: 'pcap',
        entry: { module: pathToFileURL(FIXTURE).href, export: 'fifoDrainFd' },
        config: {},
        target: { pid: process.pid },
        originNs: '0',
        realtimeMinusMonoNs: '0',
        outputPath: path.join(dir, 'telemetry-pcap.jsonl'),
        availableInDeployment: false,
        episodeDir: dir,
      },
      (row) => {
        if (row.event === 'collector_error' && row.message) reported(row.message);
      },
      () => {},
      () => {},
    );
    const message = await drained;
    const m = /^drained 100 bytes; read end was fd (\d+)$/.exec(message);
    expect(m, message).not.toBeNull();
    const reused = Number(m![1]);

    // This thread takes the number the drain's socket closed (the lowest free one, unless another thread took it first).
    const held: number[] = [];
    let mine = -1;
    for (let i = 0; i < 256 && mine < 0; i++) {
      const fd = fs.openSync(path.join(dir, `file-${i}`), 'w');
      if (fd === reused) mine = fd;
      else held.push(fd);
    }
    for (const fd of held) fs.closeSync(fd);
    expect(mine, `fd ${reused} was not free again in this process`).toBe(reused);

    await run.stop();
    const worker = (run as unknown as { worker: Worker }).worker;
    if (worker.threadId !== -1) await new Promise((resolve) => worker.once('exit', resolve));

    fs.writeSync(mine, 'still mine'); // EBADF when the worker's exit closed it
    fs.closeSync(mine);
    expect(fs.readFileSync(path.join(dir, `file-${held.length}`), 'utf8')).toBe('still mine');
  });
});
