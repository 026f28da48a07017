// Secrets stay secret: a planted token, used where it fails (a server that
// refuses it, a URL carrying it as userinfo), must appear in no file of the
// episode directory, no row, no log line and no stdout/stderr of the CLI.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { runEpisode } from '../../src/agent/run-episode.js';
import { ErrorBudget } from '../../src/agent/error-budget.js';
import { parseManifest } from '../../src/manifest/load.js';
import { clearRegisteredSecrets, registerSecret, scrubDeep } from '../../src/util/scrub-secrets.js';
import { ROOT } from '../helpers/cli.js';
import { hasNats } from '../helpers/nats.js';
import { secretFile, startNatsWithConfig } from '../helpers/nats-auth.js';
import { abortWhenLines, tmpDir } from '../helpers/tmp.js';

const run = promisify(execFile);
const planted = () => `tok-PLANTED-${Math.random().toString(36).slice(2, 12)}`;

/** Every regular file under `dir` (the episode directory, any depth). */
function filesUnder(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true, recursive: true }).filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
}

function expectNowhere(secret: string, dir: string, texts: string[]): void {
  const files = filesUnder(dir);
  expect(files.length).toBeGreaterThan(0);
  for (const f of files) expect(fs.readFileSync(f).includes(secret), `${f} carries the planted secret`).toBe(false);
  expect(texts.length).toBeGreaterThan(0);
  for (const t of texts) expect(t, 'printed text carries the planted secret').not.toContain(secret);
}

/** `labtel ...` from the source tree (the CLI's own top-level error print included), with its output and status. */
async function labtel(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; out: string; err: string }> {
  try {
    const r = await run(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/cli/main.ts'), ...args], { cwd: ROOT, env: { ...process.env, ...env }, timeout: 60_000 });
    return { code: 0, out: r.stdout, err: r.stderr };
  } catch (e) {
    const x = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof x.code === 'number' ? x.code : -1, out: x.stdout ?? '', err: x.stderr ?? '' };
  }
}

describe.runIf(hasNats())('a planted NATS token stays secret', () => {
  it('an episode whose server refuses the token records the failure, and no file, row or log line carries the token', async () => {
    // regression for: credentials could only be inlined (a URL's userinfo), and episode.json (the resolved manifest) carried them to every puller
    const token = planted();
    const srv = await startNatsWithConfig(`authorization { token: "tok-the-servers-own-123" }\n`);
    const tokenFile = secretFile(tmpDir(), 'token', `${token}\n`);
    const dir = path.join(tmpDir(), 'ep-secret');
    const log: string[] = [];
    const manifest = parseManifest({
      output_dir: dir,
      episode: 'ep-secret',
      target: { pid: process.pid },
      collectors: { proc: { interval_ms: 20 } },
      sinks: { nats: { servers: [srv.url], host: 'lab-a', token_file: tokenFile } },
    });
    const { summary } = await runEpisode({ manifest, stop: abortWhenLines(path.join(dir, 'telemetry-proc.jsonl'), 10), log: (l) => log.push(l) });
    // The failing situation happened, and is said (without the token).
    expect(log.join('\n')).toMatch(/authorization violation/i);
    expect(JSON.stringify(summary)).toMatch(/authorization violation/i);
    expect(fs.readFileSync(path.join(dir, 'episode.json'), 'utf8')).toContain(tokenFile); // the path, as named
    expectNowhere(token, dir, log);
  });

  it('the CLI refuses the token as URL userinfo (forward and pull) and a refused LABTEL_NATS_TOKEN, printing neither', async () => {
    // regression for: `--servers nats://user:TOKEN@host` was accepted and its failures printed the URL whole
    const token = planted();
    const srv = await startNatsWithConfig(`authorization { token: "tok-the-servers-own-456" }\n`);
    const ep = path.join(tmpDir(), 'ep-cli');
    fs.mkdirSync(ep);
    fs.writeFileSync(path.join(ep, 'episode.json'), JSON.stringify({ episode: 'ep-cli' }));
    fs.writeFileSync(path.join(ep, 'telemetry-proc.jsonl'), `${JSON.stringify({ source: 'host_proc', t_mono_ns: 1, seq: 0 })}\n`);
    const withUserinfo = srv.url.replace('nats://', `nats://lab:${token}@`);
    const out = tmpDir();

    const fwd = await labtel(['forward', ep, '--servers', withUserinfo, '--host', 'lab-a']);
    expect(fwd.code).toBe(2);
    expect(fwd.err).toContain('expected a NATS server URL without a user or password in it');
    const pul = await labtel(['pull', '--servers', withUserinfo, '--out', out]);
    expect(pul.code).toBe(2);
    expect(pul.err).toContain('expected a NATS server URL without a user or password in it');
    // A token the server refuses, from the environment: the pass stops and says why.
    const env = await labtel(['forward', ep, '--servers', srv.url, '--host', 'lab-a'], { LABTEL_NATS_TOKEN: token });
    expect(env.code).toBe(1);
    expect(env.err).toMatch(/with LABTEL_NATS_TOKEN: .*authorization violation/i);

    expectNowhere(token, ep, [fwd.out, fwd.err, pul.out, pul.err, env.out, env.err]);
    expect(filesUnder(out).filter((f) => fs.readFileSync(f).includes(token))).toEqual([]);
  }, 120_000);
});

describe('what labtel records is scrubbed', () => {
  it("episode.json's content (scrubDeep, as runEpisode writes it): a registered token, a URL's userinfo and a key-shaped string are gone, the rest is kept", () => {
    // regression for: episode.json travels over the stream to every puller, with whatever string the manifest or the host carried
    const token = planted();
    registerSecret(token);
    try {
      const text = JSON.stringify(scrubDeep({ episode: 'e', manifest: { note: `x ${token} y`, url: 'https://u:pw-secret-9@h/x' }, target: { pid: 5 } }));
      expect(text).not.toContain(token);
      expect(text).not.toContain('pw-secret-9');
      expect(JSON.parse(text)).toEqual({ episode: 'e', manifest: { note: 'x [redacted] y', url: 'https://[redacted]@h/x' }, target: { pid: 5 } });
    } finally {
      clearRegisteredSecrets();
    }
  });

  it("a collector's messages (summary.json errors, the agent's rows) are scrubbed before they are sent", () => {
    // regression for: a peer's error text quoting a URL with a password or a bearer token went to summary.json and to every puller
    const sent: string[] = [];
    const b = new ErrorBudget((m) => sent.push(m));
    b.report('fetch http://admin:pw-Planted-1@10.0.0.9/x failed: Authorization: Bearer abc.def.ghi-Planted-2');
    expect(sent.length).toBe(1);
    expect(sent[0]).not.toContain('Planted');
    expect(sent[0]).toContain('fetch http://[redacted]@10.0.0.9/x failed');
  });
});
