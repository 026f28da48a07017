// The drain of tcpdump's FIFO: polled while bytes flow, woken by the kernel (a paused
// net.Socket on the descriptor) once the pipe runs dry. Whatever the mix of quiet spells,
// bursts and holds, every byte arrives once and in order, and the drain ends at end of file.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fifo, FifoDrain } from '../../../src/collectors/pcap/fifo-drain.js';

// A writer process (the pipe's only writer, as tcpdump is): byte i is i % 251; `plan` is [bytes, then sleep ms] steps.
function writer(plan: Array<[number, number]>): { readFd: number; total: number; exited: Promise<number | null> } {
  const { readFd, writeFd } = fifo();
  const script = `
    const fs = require('fs'); let i = 0;
    const plan = ${JSON.stringify(plan)};
    const sleep = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
    for (const [n, ms] of plan) {
      const b = Buffer.alloc(n); for (let k = 0; k < n; k++) b[k] = (i++) % 251;
      for (let off = 0; off < n; ) off += fs.writeSync(1, b, off, n - off);
      sleep(ms);
    }`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', writeFd, 'inherit'] });
  fs.closeSync(writeFd);
  return { readFd, total: plan.reduce((a, [n]) => a + n, 0), exited: new Promise((resolve) => child.once('exit', resolve)) };
}

function expectPattern(got: Buffer, total: number): void {
  expect(got.length).toBe(total);
  let bad = -1;
  for (let k = 0; k < got.length; k++) if (got[k] !== k % 251) { bad = k; break; }
  expect(bad, 'first byte out of order').toBe(-1);
}

describe('FifoDrain', () => {
  // regression for: draining through the kernel's readiness after a quiet spell (instead of polling every 16 ms) must neither lose nor reorder bytes when polling takes over for a burst.
  it('delivers every byte in order across quiet spells, single bytes and a burst, and ends at end of file', async () => {
    const w = writer([[10, 60], [1, 60], [100, 30], [3 << 20, 80], [1, 40], [70_000, 0], [5, 0]]);
    const chunks: Buffer[] = [];
    const errors: string[] = [];
    const d = new FifoDrain(w.readFd, { data: (b) => chunks.push(Buffer.from(b)), readError: (m) => errors.push(m), paused: () => false });
    await d.done;
    expect(await w.exited).toBe(0);
    expect(errors).toEqual([]);
    expect(chunks.length).toBeGreaterThan(1);
    expectPattern(Buffer.concat(chunks), w.total);
  });

  // regression for: a read the kernel's readiness started must not hand bytes on while the consumer holds the capture back.
  it('reads nothing while paused, and everything once let go', async () => {
    const w = writer([[1000, 50], [200_000, 50], [10, 0]]);
    const chunks: Buffer[] = [];
    let paused = false;
    let whilePaused = 0;
    const d = new FifoDrain(w.readFd, {
      data: (b) => {
        if (paused) whilePaused += b.length;
        chunks.push(Buffer.from(b));
        if (chunks.length === 1) {
          paused = true; // held back after the first read, as the fanout does past its unacknowledged bytes
          setTimeout(() => (paused = false), 300);
        }
      },
      readError: () => {},
      paused: () => paused,
    });
    await d.done;
    expect(whilePaused).toBe(0);
    expectPattern(Buffer.concat(chunks), w.total);
  });
});
