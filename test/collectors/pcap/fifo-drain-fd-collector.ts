// A collector (for test/collectors/pcap/fifo-drain-fd.test.ts) that runs the real FIFO drain on its worker
// thread as pcap's does, to its end of file (the drain's socket closes the read end), says which descriptor
// number that was, and waits for the episode's stop.
import fs from 'node:fs';
import { FifoDrain, fifo } from '../../../src/collectors/pcap/fifo-drain.js';
import type { Collector } from '../../../src/collectors/types.js';

export const fifoDrainFd: Collector = {
  probe: async () => ({ available: true, reason: '' }),
  async run(ctx) {
    const { readFd, writeFd } = fifo();
    let bytes = 0;
    const drain = new FifoDrain(readFd, { data: (b) => (bytes += b.length), readError: (m) => ctx.reportError(`read error: ${m}`), paused: () => false });
    fs.writeSync(writeFd, 'x'.repeat(100));
    fs.closeSync(writeFd);
    await drain.done; // the drain's socket has closed readFd
    ctx.reportError(`drained ${bytes} bytes; read end was fd ${readFd}`);
    await new Promise<void>((resolve) => (ctx.signal.aborted ? resolve() : ctx.signal.addEventListener('abort', () => resolve(), { once: true })));
    return { end: 'stopped' };
  },
};
