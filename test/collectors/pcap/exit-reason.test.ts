// How a tcpdump run's end reads in capture_ended rows and restart errors:
// a clean stop must read "stopped" (not as a failure), while anything else
// keeps tcpdump's own words and says when its last record was cut short.
import { describe, expect, it } from 'vitest';
import { describeExit } from '../../../src/collectors/pcap/exit-reason.js';
import type { TcpdumpExit } from '../../../src/collectors/pcap/tcpdump-run.js';

const exit = (e: Partial<TcpdumpExit>): TcpdumpExit => ({ how: 'exited with code 0', signal: null, said: '', cutBytes: 0, streamError: null, finalStats: true, ...e });

describe('describeExit', () => {
  it('a stop that tcpdump took cleanly is "stopped", whatever it said', () => {
    expect([describeExit(exit({ how: 'killed by SIGTERM', signal: 'SIGTERM', said: 'x' }), true), describeExit(exit({ said: 'x' }), true)]).toEqual(['stopped', 'stopped']);
  });

  it('anything else names how tcpdump ended and what it said, and a record cut short', () => {
    expect([
      describeExit(exit({ how: 'killed by SIGKILL', signal: 'SIGKILL', cutBytes: 40 }), true),
      describeExit(exit({ how: 'exited with code 1', said: 'eth9: No such device exists' }), false),
      describeExit(exit({ how: 'killed by SIGKILL', signal: 'SIGKILL', cutBytes: 7 }), false),
    ]).toEqual([
      'stopped: tcpdump killed by SIGKILL: its last record was cut short (40 bytes, not counted)',
      'tcpdump exited with code 1: eth9: No such device exists',
      'tcpdump killed by SIGKILL: its last record was cut short (7 bytes, not counted)',
    ]);
  });
});
