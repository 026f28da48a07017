// The bound on learning layouts (template-set.ts, MAX_LEARN_TRIES) counts
// new layouts tried, not every row the parsing way found valid.
// regression for: rows of a known layout that its bytes could not match (a
// thread name in UTF-8 or with an escape) each used up a try, so after 4,096
// of them a layout first seen later (thread rows after a restart, a new
// shape) was never learned and every row of it went through JSON.parse.
import { describe, expect, it } from 'vitest';
import { TemplateSet } from '../../src/verify/template-set.js';
import { shapeOf } from '../../src/verify/row-shapes.js';

type Row = Record<string, unknown>;

const thread = (seq: number, comm: string): Row => ({
  source: 'host_proc', t_mono_ns: seq * 1e8, seq, available_in_deployment: true, pid: 4242, tid: 4243, comm, vcpu: 0, role: 'vcpu', starttime: 5001,
  interval_s: 0.1, state: 'S', processor: 1, cpu_user_jiffies: 1, cpu_sys_jiffies: 0, minflt: 0, majflt: 0, cpu_time_ns: 10_000_000, run_delay_ns: 2_000, run_periods: 4,
});

function learnLine(set: TemplateSet, row: Row): Buffer {
  const buf = Buffer.from(JSON.stringify(row) + '\n');
  if (!set.match(buf, 0, buf.length - 1)) set.learn(buf, 0, buf.length - 1, row, 'host_proc', shapeOf('host_proc', row));
  return buf;
}

describe('learning row layouts', () => {
  it('a layout first seen after 5,000 rows of a known one its bytes do not match is still learned', () => {
    const set = new TemplateSet(() => true);
    learnLine(set, thread(0, 'CPU 0/KVM'));
    let unmatched = 0;
    for (let i = 1; i <= 5000; i++) {
      const buf = Buffer.from(JSON.stringify(thread(i, 'vCPU é')) + '\n');
      if (set.match(buf, 0, buf.length - 1)) continue;
      unmatched++;
      learnLine(set, thread(i, 'vCPU é'));
    }
    expect(unmatched).toBe(5000);
    // The same row with its keys in another order: a new layout.
    const reordered = (seq: number): Row => {
      const { comm, ...rest } = thread(seq, 'CPU 1/KVM');
      return { ...rest, comm };
    };
    learnLine(set, reordered(5001));
    const next = Buffer.from(JSON.stringify(reordered(5002)) + '\n');
    const t = set.match(next, 0, next.length - 1);
    expect(t).not.toBeNull();
    expect(t!.seq).toBe(5002);
  });
});
