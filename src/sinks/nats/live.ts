// The agent's forwarding during an episode: a pass over the files every
// PASS_MS on the main thread (collectors run on their own threads and never
// wait for it), and at the end, after summary.json, a last pass with a time
// limit. What did not reach NATS by then is in the cursor: `labtel forward
// DIR` finishes it.
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { NatsSinkConfig } from './config.js';
import { NatsForwarder } from './forwarder.js';

const PASS_MS = 500;
const FINISH_MS = 15_000;

export function startForwarding(dir: string, cfg: NatsSinkConfig, episode: string, log: (l: string) => void): { finish(): Promise<void> } {
  const f = new NatsForwarder(dir, cfg, { prefix: cfg.subject_prefix, host: cfg.host ?? os.hostname(), episode });
  let stopping = false;
  let lastError: string | null = null;
  const loop = (async () => {
    await f.forwardEpisodeFiles();
    while (!stopping) {
      if (!(await f.pass()) && f.progress.error !== lastError) log(`nats: ${(lastError = f.progress.error)}; retrying (the rows wait in the files)`);
      await sleep(PASS_MS);
    }
  })();
  return {
    async finish() {
      stopping = true;
      await Promise.race([loop, sleep(FINISH_MS)]);
      const end = Date.now() + FINISH_MS;
      let done = false;
      while (!done && Date.now() < end) {
        done = (await f.pass()) && (await f.forwardEpisodeFiles());
        if (!done) await sleep(PASS_MS);
      }
      log(done ? `nats: forwarded ${f.progress.published} rows to ${cfg.stream}` : `nats: not everything was forwarded (${f.progress.error}); \`labtel forward ${dir}\` finishes it`);
      await f.close();
    },
  };
}
