// The addon's runFd in two halves (start() in the background, then drain()
// or abort()), which `labtel bucketize` uses to start reading before the
// rest of the command loads: the same rows as runFd, and threads that never
// outlive their bucketizer, their caller's error or the process.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateCapture } from '../../../../scripts/bench/gen-capture.js';
import { nativeAddon, nativeStatus } from '../../../../src/native/addon.js';
import type { CaptureBucketizer } from '../../../../src/native/types.js';
import { tmpDir } from '../../../helpers/tmp.js';
import { ROOT } from '../../../helpers/cli.js';

interface Startable {
  start(fd: number, format: { bucketMs: number; availableInDeployment: boolean; seq: number }): void;
  drain(onLines: (text: string, rows: number, bytes: number, packets: number) => void): { readErrno: number; lastPartial: boolean };
  abort(): void;
}
const OPTS = { bucketNs: 1e6, fillEmpty: true, latenessNs: 0, skipBad: false, guestIps: [new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 200, 0, 10])], guestMacs: [], bridgeIps: [] };
const FORMAT = { bucketMs: 1, availableInDeployment: true, seq: 5 };

function bucketizer(): CaptureBucketizer & Startable {
  const addon = nativeAddon();
  expect(addon, nativeStatus().reason).not.toBeNull();
  return new addon!.CaptureBucketizer(OPTS) as CaptureBucketizer & Startable;
}

function capture(packets: number): string {
  const file = path.join(tmpDir(), 'c.pcap');
  generateCapture(file, packets, { seed: 11 });
  return file;
}

/** Rows and every onLines call's counts, through runFd or start + drain. */
function run(file: string, how: 'runFd' | 'start'): { text: string; calls: number[][]; result: unknown; status: unknown } {
  const b = bucketizer();
  const fd = fs.openSync(file, 'r');
  try {
    let text = '';
    const calls: number[][] = [];
    const onLines = (t: string, rows: number, bytes: number, packets: number) => {
      text += t;
      calls.push([rows, bytes, packets]);
    };
    let result;
    if (how === 'runFd') {
      result = b.runFd!(fd, FORMAT, onLines);
    } else {
      b.start(fd, FORMAT);
      result = b.drain(onLines);
    }
    return { text, calls, result, status: b.status() };
  } finally {
    fs.closeSync(fd);
  }
}

describe('CaptureBucketizer start/drain/abort (native)', () => {
  it('start() then drain() hands over the same text, in the same calls, with the same result and status as runFd()', () => {
    const file = capture(30_000);
    const a = run(file, 'runFd');
    const b = run(file, 'start');
    expect(a.calls.length).toBeGreaterThan(1);
    expect(a.text.split('\n').length).toBeGreaterThan(1000);
    expect(b).toEqual(a);
  });

  it('the rows wait for drain(): a drain that comes late gets every row', async () => {
    // regression for: rows the background run formatted before anyone drained them being dropped or cut.
    const file = capture(30_000);
    const a = run(file, 'runFd');
    const b = bucketizer();
    const fd = fs.openSync(file, 'r');
    try {
      b.start(fd, FORMAT);
      await new Promise((r) => setTimeout(r, 300)); // the run ends (or fills its queue) before drain
      let text = '';
      b.drain((t) => (text += t));
      expect(text).toBe(a.text);
    } finally {
      fs.closeSync(fd);
    }
  });

  it('abort() stops a run nobody drained; the bucketizer refuses other calls only while it runs', () => {
    const file = capture(30_000);
    const b = bucketizer();
    const fd = fs.openSync(file, 'r');
    try {
      b.start(fd, FORMAT);
      expect(() => b.feed(new Uint8Array(0))).toThrow('a run is going on this CaptureBucketizer: drain() or abort() it first');
      expect(() => b.start(fd, FORMAT)).toThrow('a run is going on this CaptureBucketizer');
      b.abort();
      b.abort(); // twice: nothing left to stop
      expect(() => b.drain(() => {})).toThrow('drain(): no run was started');
    } finally {
      fs.closeSync(fd);
    }
  });

  it('an onLines that throws stops the run and its exception comes out of drain()', () => {
    const file = capture(30_000);
    const b = bucketizer();
    const fd = fs.openSync(file, 'r');
    try {
      b.start(fd, FORMAT);
      expect(() =>
        b.drain(() => {
          throw new Error('EPIPE here');
        }),
      ).toThrow('EPIPE here');
    } finally {
      fs.closeSync(fd);
    }
  });

  it('a process that exits with a run going (never drained nor aborted) exits as it meant to', () => {
    // regression for: a std::thread still joinable when the environment goes away calls std::terminate (SIGABRT);
    // the cleanup hook stops and joins the run first.
    const file = capture(60_000);
    const addon = path.join(ROOT, 'dist', 'native', 'addon.js');
    const script = `
      const { nativeAddon } = await import(${JSON.stringify(addon)});
      const fs = await import('node:fs');
      const b = new (nativeAddon().CaptureBucketizer)({ bucketNs: 1e6, fillEmpty: true, latenessNs: 0, skipBad: false, guestIps: [], guestMacs: [], bridgeIps: [] });
      b.start(fs.openSync(${JSON.stringify(file)}, 'r'), { bucketMs: 1, availableInDeployment: true, seq: 0 });
      process.exitCode = 3;`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
    expect(r.error, 'the child did not end within 30 s').toBeUndefined();
    expect({ status: r.status, signal: r.signal, stderr: r.stderr }).toEqual({ status: 3, signal: null, stderr: '' });
  });
});
