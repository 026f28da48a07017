// `labtel bucketize` in its plain form runs without commander
// (src/cli/main.ts): what plainBucketizeArgv accepts must give exactly the
// captures and flags commander gives for the same argv with the command's
// own definition, and everything else must be left to commander (null), so
// its parsing and messages stay the only ones.
// regression for: a commander-free fast path that reads an argv differently
// (a flag's value, a repeated flag, -o -, --no-fill, a capture named like a
// number) or swallows what commander would refuse or treat otherwise
// (--help, --flag=value, unknown flags, "--").
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { bucketizeCommandSpec, plainBucketizeArgv } from '../../src/cli/commands/bucketize-argv.js';

/** Commander's reading of argv (after the program name): captures and options, or the error it stops with. */
function commander(argv: string[]): unknown {
  let got: unknown = null;
  const program = new Command().exitOverride().configureOutput({ writeOut: () => {}, writeErr: () => {} });
  bucketizeCommandSpec(program.command('bucketize').exitOverride()).action((captures: string[], opts: object) => {
    got = { captures, flags: { ...opts } };
  });
  try {
    program.parse(argv, { from: 'user' });
  } catch (err) {
    return { refused: (err as Error).message };
  }
  return got;
}

const values = ['-', '100', '10.200.0.10', 'a.pcap', '', '-5', '--force', '-o', '52:54:00:12:34:56', '1e3'];
const flags = ['-o', '--output', '--bucket-ms', '--lateness-ms', '--max-empty-buckets', '--origin-wall-ns', '--guest-ip', '--guest-mac', '--bridge-ip'];
const bare = ['--no-fill', '--skip-bad', '--force', '--help', '-h', '--episode', '--out-dir', '-j', '--', '--bucket-ms=5', '-oX', '-o-', '--nope', '-'];

function argvs(): string[][] {
  const out: string[][] = [];
  const caps = [['a.pcap'], ['a.pcap', 'b.pcap'], [], ['100']];
  for (const c of caps) {
    out.push(['bucketize', ...c]);
    for (const f of flags) for (const v of values) {
      out.push(['bucketize', ...c, f, v]);
      out.push(['bucketize', f, v, ...c]);
      out.push(['bucketize', ...c, f, v, f, '7']);
    }
    for (const b of bare) {
      out.push(['bucketize', ...c, b]);
      out.push(['bucketize', b, ...c, '--guest-ip', '10.0.0.1']);
      out.push(['bucketize', ...c, b, b]);
    }
  }
  out.push(['bucketize', '/tmp/x.pcap', '-o', '-', '--bucket-ms', '100', '--guest-ip', '10.200.0.10']);
  out.push(['bucketize', 'x.pcap', '--guest-ip', '10.0.0.1', '--guest-ip', '::1', '--guest-mac', '52:54:00:12:34:56', '--bridge-ip', '10.0.0.2', '--no-fill', '--skip-bad', '--force', '-o', 'out.jsonl', '--lateness-ms', '0', '--max-empty-buckets', '5', '--origin-wall-ns', '1']);
  out.push(['run', 'm.json'], ['doctor'], [], ['bucketize']);
  return out;
}

describe('labtel bucketize read without commander', () => {
  it('gives what commander gives for every argv it takes, and leaves the rest to commander', () => {
    const all = argvs();
    expect(all.length).toBeGreaterThan(0);
    let taken = 0;
    for (const argv of all) {
      const plain = plainBucketizeArgv(argv);
      if (plain === null) continue;
      taken++;
      expect(commander(argv), argv.join(' ')).toEqual(plain);
    }
    expect(taken).toBeGreaterThan(100);
  });

  it("takes the bench's and the README's command lines", () => {
    expect(plainBucketizeArgv(['bucketize', 'cap.pcap', '-o', '-', '--bucket-ms', '100', '--guest-ip', '10.200.0.10'])).toEqual({
      captures: ['cap.pcap'],
      flags: { output: '-', bucketMs: '100', guestIp: ['10.200.0.10'], guestMac: [], bridgeIp: [], fill: true },
    });
    expect(plainBucketizeArgv(['bucketize', 'capture.pcap', '-o', 'netflow.jsonl', '--bucket-ms', '100', '--guest-ip', '10.200.0.10'])).not.toBeNull();
  });

  it('leaves help, = forms, unknown flags, episodes, several outputs and a missing capture to commander', () => {
    const left = [
      ['bucketize', 'a.pcap', '--help'],
      ['bucketize', 'a.pcap', '--bucket-ms=5'],
      ['bucketize', 'a.pcap', '-oX'],
      ['bucketize', 'a.pcap', '--nope'],
      ['bucketize', 'a.pcap', '--episode', 'ep'],
      ['bucketize', 'a.pcap', '--out-dir', 'd'],
      ['bucketize', 'a.pcap', '-o', 'x', '-o', 'y'],
      ['bucketize', 'a.pcap', '--bucket-ms'],
      ['bucketize', 'a.pcap', '--bucket-ms', '-5'],
      ['bucketize', 'a.pcap', '--', 'b.pcap'],
      ['bucketize'],
      ['bucketize', '--guest-ip', '10.0.0.1'],
      ['run', 'a.pcap'],
    ];
    expect(left.length).toBeGreaterThan(0);
    for (const argv of left) expect(plainBucketizeArgv(argv), argv.join(' ')).toBeNull();
  });
});
