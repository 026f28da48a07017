// `labtel run` fails a collector whose valueRows is 0 (src/agent/collector-run.ts); labtel
// verify fails one none of whose rows has a measured value (src/rows/measurements.ts). The two
// must agree, or an episode run calls ok is failed by verify, or the other way round. Here the
// guest_agent loop runs against guests that send or answer nothing measured (fakes: these are
// hostile peers), and its valueRows is held to the rows verify counts as measured.
// Regression for: the loop counted every guest line with a key and every qga answer, so a guest
// sending {"cpu": null} or a qga answering [] or {} made `labtel run` say ok where verify fails;
// and a qga that answered only guest-get-osinfo (the OS's name: identity) was ok for both.
import net from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EpisodeClock } from '../../src/clock/origin.js';
import { guestAgentConfig } from '../../src/collectors/guest_agent/config.js';
import { guestLoop } from '../../src/collectors/guest_agent/run-loop.js';
import { measuresSomething } from '../../src/rows/measurements.js';
import { JsonlWriter } from '../../src/rows/jsonl-writer.js';
import { fakeGuestServer, waitFor } from '../helpers/fake-guest.js';
import { readJsonl, tmpDir } from '../helpers/tmp.js';
import { settled } from '../helpers/wait.js';

type Row = Record<string, unknown>;
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

/** Runs guestLoop (connect mode) on `socket` until `done(rows)`; returns its result and rows. */
async function runLoop(socket: string, protocol: 'jsonl' | 'qga', done: (rows: Row[]) => boolean, what: string) {
  const out = path.join(tmpDir(), 'telemetry-guest_agent.jsonl');
  const writer = new JsonlWriter(out, { availableInDeployment: false });
  const ac = new AbortController();
  const loop = guestLoop({ config: guestAgentConfig.parse({ socket, mode: 'connect', protocol, interval_ms: 30 }), writer, clock: new EpisodeClock(process.hrtime.bigint()), signal: ac.signal, reportError: () => {} });
  cleanups.push(() => void ac.abort());
  await waitFor(() => {
    writer.flush();
    try {
      return done(readJsonl(out));
    } catch {
      return false; // the file is not there yet
    }
  }, what);
  ac.abort();
  const result = await settled(loop, 'guestLoop to end after the abort');
  writer.close();
  return { result, rows: readJsonl(out) };
}

/** A qemu-guest-agent that syncs and then answers every command with `answer(command)`. */
async function fakeQga(answer: (command: string) => unknown): Promise<string> {
  const sock = path.join(tmpDir('labtel-fake-qga-'), 'qga.sock');
  const server = net.createServer((s) => {
    s.on('error', () => {});
    let buf = '';
    s.on('data', (d: Buffer) => {
      buf += d.toString('latin1').replace(/\xff/g, '');
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const cmd = JSON.parse(buf.slice(0, nl)) as { execute: string; arguments?: { id: number } };
        buf = buf.slice(nl + 1);
        if (cmd.execute === 'guest-sync-delimited') s.write(Buffer.concat([Buffer.from([0xff]), Buffer.from(JSON.stringify({ return: cmd.arguments!.id }) + '\n')]));
        else s.write(JSON.stringify({ return: answer(cmd.execute) }) + '\n');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(sock, resolve));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return sock;
}

const verifyCount = (rows: Row[]) => rows.filter((r) => measuresSomething('guest', r)).length;

describe('guest_agent: labtel run counts a row as measured exactly when verify does', () => {
  it('jsonl: lines that are empty or hold only nulls measure nothing, for run as for verify; one with a zero does', async () => {
    const guest = await fakeGuestServer();
    const sent = [{}, { cpu: null }, { mem: { used: null, free: [null] } }, { cpu: { user: 0 } }];
    const running = runLoop(guest.path, 'jsonl', (rows) => rows.filter((r) => r.kind === 'line').length === sent.length, `${sent.length} line rows`);
    const conn = await guest.connection(0);
    for (const x of sent) await conn.send(JSON.stringify(x) + '\n');
    const { result, rows } = await running;
    const lines = rows.filter((r) => r.kind === 'line');
    expect(lines.map((r) => r.guest)).toEqual(sent);
    expect(verifyCount(rows)).toBe(1);
    expect(result.valueRows).toBe(verifyCount(rows));
  });

  it('qga: answers that are empty or hold only nulls, and the OS\'s name, measure nothing, for run as for verify', async () => {
    // The OS's identity is an answer, but not a measurement: a qga that answers only it measured nothing.
    const answers: Record<string, unknown> = { 'guest-get-osinfo': { name: 'Debian GNU/Linux', 'kernel-release': '6.1.0-18-amd64' }, 'guest-get-cpustats': [], 'guest-get-diskstats': [{ name: null }], 'guest-get-memory-blocks': [{}] };
    const sock = await fakeQga((c) => answers[c] ?? {});
    const { result, rows } = await runLoop(sock, 'qga', (rows) => rows.filter((r) => r.kind === 'qga').length >= 8, '8 qga rows');
    const qga = rows.filter((r) => r.kind === 'qga');
    expect(qga.length).toBeGreaterThanOrEqual(8);
    expect(new Set(qga.map((r) => r.command))).toEqual(new Set(Object.keys(answers)));
    expect(verifyCount(rows)).toBe(0);
    expect(result.valueRows).toBe(0);
  });
});
