// The agent's forwarding during an episode: a pass over the files every
// PASS_MS on the main thread (collectors run on their own threads and never
// wait for it). At the end (run-episode.ts keeps the order): finish() once
// the collectors have stopped and every row file is closed — the loop's pass
// in progress ends, then a last pass runs within FINISH_MS — and returns
// what summary.json records: per source, the rows JetStream acknowledged and
// the rows that remain in the files for `labtel forward DIR`. Then
// publishEpisodeFiles() sends episode.json and summary.json within FILES_MS,
// whatever happened to the rows. No two passes ever run at once; a pass still
// running at its time limit is cut by closing the connection, so what is
// counted as forwarded is only what JetStream acknowledged.
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { NatsForwardingSummary } from './forwarding-summary.js';
import { scrubSecrets } from '../../util/scrub-secrets.js';
import type { NatsSinkConfig } from './config.js';
import { NatsForwarder, type ForwardAccounting } from './forwarder.js';

const PASS_MS = 500;
/** The last pass's time, from when the collectors have stopped: what JetStream has not acknowledged by then is counted as remaining. */
export const FINISH_MS = 15_000;
/** episode.json and summary.json's time, after the last pass. */
export const FILES_MS = 10_000;
/** How long a pass cut at its time limit (its connection closed) may take to give up. */
const SETTLE_MS = 5_000;

/** The forwarder as the agent drives it (forwarder.ts). */
interface Forwarder {
  pass(): Promise<boolean>;
  forwardEpisodeFiles(): Promise<boolean>;
  close(): Promise<void>;
  /** Reads the files past the cursor: once, at the end. */
  accounting(): ForwardAccounting;
  readonly progress: { error: string | null };
}

/** Every error text the agent prints or records about forwarding passes here (the one place to scrub it). */
export const forwardingErrorText = (text: string): string => scrubSecrets(text);

export interface LiveForwarding {
  /** Ends the loop and runs the last pass (within FINISH_MS): summary.json's forwarding.nats. Call once every row file is closed. */
  finish(): Promise<NatsForwardingSummary>;
  /** Publishes episode.json and summary.json (within FILES_MS) and closes the connection; false when they did not go. */
  publishEpisodeFiles(): Promise<boolean>;
  /** Ends the loop and closes the connection (bounded) without publishing: the episode ended by an error. A no-op once publishEpisodeFiles() has closed it. */
  close(): Promise<void>;
}

/** `s` as one word of a POSIX shell command line. */
const shellWord = (s: string) => (/^[A-Za-z0-9_./@%+=:,-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

/**
 * The command that publishes what remains, with the manifest's credential paths as flags: `labtel forward` takes
 * credentials only from its flags or the environment (never from episode.json), so a bare `labtel forward DIR`
 * connected without them and a server with per-host users refused it.
 */
export function resumeCommand(dir: string, cfg: NatsSinkConfig): string {
  const flags: Array<[string, string | undefined]> = [
    ['--credentials', cfg.credentials],
    ['--nkey-seed-file', cfg.nkey_seed_file],
    ['--token-file', cfg.token_file],
    ['--user', cfg.user],
    ['--password-file', cfg.password_file],
    ['--inbox-prefix', cfg.inbox_prefix],
  ];
  return ['labtel forward', shellWord(dir), ...flags.filter(([, v]) => v !== undefined).map(([f, v]) => `${f} ${shellWord(v!)}`)].join(' ');
}

export function startForwarding(dir: string, cfg: NatsSinkConfig, episode: string, log: (l: string) => void): LiveForwarding {
  const f: Forwarder = new NatsForwarder(dir, cfg, { prefix: cfg.subject_prefix, host: cfg.host ?? os.hostname(), episode });
  const resume = resumeCommand(dir, cfg);
  const wake = new AbortController();
  let stopping = false;
  let lastError: string | null = null;
  const errorOf = (): string | null => f.progress.error;
  const loop = (async () => {
    await f.forwardEpisodeFiles(); // episode.json first: a puller knows the episode while it runs
    while (!stopping) {
      if (!(await f.pass()) && errorOf() !== lastError && (lastError = errorOf())) log(`nats: ${forwardingErrorText(lastError)}; retrying (the rows wait in the files)`);
      await sleep(PASS_MS, undefined, { signal: wake.signal }).catch(() => {});
    }
  })();

  /** `work` by `deadline`; past it the connection is closed (its publishes fail at once) and `work` is given SETTLE_MS to give up. */
  const by = async <T>(work: Promise<T>, deadline: number): Promise<T | 'timeout'> => {
    const guarded = work.catch((err: unknown) => {
      throw err instanceof Error ? err : new Error(String(err));
    });
    const limit = sleep(Math.max(0, deadline - Date.now()), 'timeout' as const, { ref: false });
    const r = await Promise.race([guarded, limit]);
    if (r !== 'timeout') return r;
    // close() drains: bounded too, as a drain may wait on a server that does not answer.
    await Promise.race([f.close().catch(() => {}), sleep(SETTLE_MS, undefined, { ref: false })]);
    await Promise.race([guarded.catch(() => {}), sleep(SETTLE_MS, undefined, { ref: false })]);
    return 'timeout';
  };

  return {
    async finish() {
      stopping = true;
      wake.abort();
      const deadline = Date.now() + FINISH_MS;
      let timedOut = (await by(loop, deadline)) === 'timeout';
      let passed = false;
      let failure = f.progress.error; // why the pass before a cut one failed (the cut's own error is only "closed")
      while (!timedOut && Date.now() < deadline) {
        const r = await by(f.pass(), deadline);
        timedOut = r === 'timeout';
        passed = r === true;
        if (passed || timedOut) break;
        failure = f.progress.error ?? failure;
        await sleep(Math.min(PASS_MS, Math.max(0, deadline - Date.now())));
      }
      const acc = f.accounting();
      const sources = Object.values(acc.by_source);
      const complete = passed && sources.every((s) => s.remaining === 0);
      const late = `the last pass did not finish within ${FINISH_MS / 1000} s of the episode's end`;
      const why = [failure, acc.error].filter((x, i, a): x is string => !!x && a.indexOf(x) === i).join('; ');
      // No pass succeeded: the last one was cut at the limit, or each failed (a server that never answers makes each
      // connect time out) until the limit passed. Either way the rows did not go within FINISH_MS, and why is said.
      const error = timedOut || !passed ? `${late}${why ? ` (${why})` : ''}` : (acc.error ?? (complete ? null : 'rows remain unacknowledged'));
      const out: NatsForwardingSummary = { stream: cfg.stream, complete, by_source: acc.by_source, error: error === null ? null : forwardingErrorText(error), resume };
      const list = (pick: (x: { forwarded: number; remaining: number }) => number) =>
        Object.entries(acc.by_source).filter(([, x]) => pick(x) > 0).map(([src, x]) => `${src} ${pick(x)}`).join(', ') || 'none';
      log(
        complete
          ? `nats: every row forwarded to ${cfg.stream} (${list((x) => x.forwarded)})`
          : `nats: forwarded to ${cfg.stream}: ${list((x) => x.forwarded)}; remaining: ${list((x) => x.remaining)} (${out.error}); \`${resume}\` publishes them`,
      );
      return out;
    },

    async publishEpisodeFiles() {
      const r = await by(f.forwardEpisodeFiles(), Date.now() + FILES_MS);
      const ok = r === true;
      if (!ok) log(`nats: episode.json and summary.json not published (${forwardingErrorText(errorOf() ?? `not within ${FILES_MS / 1000} s`)}); \`${resume}\` publishes them`);
      await by(f.close(), Date.now() + SETTLE_MS);
      return ok;
    },

    async close() {
      stopping = true;
      wake.abort();
      await by(loop, Date.now() + SETTLE_MS);
      await by(f.close(), Date.now() + SETTLE_MS);
    },
  };
}
