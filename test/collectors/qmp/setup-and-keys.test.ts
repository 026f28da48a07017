// The qmp poll's one-time setups (block-latency-histogram-set,
// migrate-set-capabilities, the balloon's qom-list / qom-set) and the keys
// QEMU chooses, against a QEMU that answers wrongly or not at all: a setup
// never answered costs no poll its data and is not sent forever, histograms
// are written only after labtel's own set took, a QOM name never steers a
// path labtel sends, vCPUs merged under one key get no rate, and every
// reason says what really happened.
import { describe, expect, it } from 'vitest';
import { newPollState, pollQemu, SETUP_TRIES } from '../../../src/collectors/qmp/poll.js';
import { QMP_BOUNDS } from '../../../src/collectors/qmp/bounds.js';
import { ROW_SCHEMAS } from '../../../src/rows/registry.js';
import { QapiError } from '../../../src/util/qapi-error.js';
import { fakeQmp, okReply, runQmpLoop, stubQmp, type StubAnswers } from '../../helpers/fake-qmp.js';

type Row = Record<string, unknown>;
type Answers = StubAnswers;
const stub = stubQmp;
const asRow = (p: Awaited<ReturnType<typeof pollQemu>>, seq = 0): Row => ({
  source: 'qmp', t_mono_ns: 1, seq, available_in_deployment: true, ...p.fields, poll_ms: 1, events_dropped: 0, ...(Object.keys(p.reasons).length ? { null_reasons: p.reasons } : {}),
});
const valid = (r: Row) => ROW_SCHEMAS.qmp!.safeParse(r).error;
const reasonsOf = (r: Row) => (r.null_reasons ?? {}) as Record<string, string>;
const count = (sent: Array<[string, unknown]>, cmd: string) => sent.filter(([c]) => c === cmd).length;

describe('latency histograms are written only after labtel set them', () => {
  // regression for: QEMU already kept histograms (another client, an earlier labtel connection): the first poll wrote
  // QEMU's old totals, labtel's set reset them, and the next row went back to zero within one connection.
  it("QEMU's histograms from before the set are not written; the rows after a set that took only grow", async () => {
    let bins = [40, 30, 20, 10, 0, 0, 0]; // another client's
    const sent: Array<[string, unknown]> = [];
    const c = stub(
      {
        'query-blockstats': () => [{ device: 'disk0', stats: { rd_bytes: 0, rd_latency_histogram: { boundaries: [10_000, 100_000, 1_000_000, 10_000_000, 100_000_000, 1_000_000_000], bins } } }],
        'block-latency-histogram-set': () => {
          bins = [0, 0, 0, 0, 0, 0, 0];
          return {};
        },
      },
      sent,
    );
    const st = newPollState();
    const hist: Array<number[] | null> = [];
    for (let i = 0; i < 4; i++) {
      const p = await pollQemu(c, st);
      expect(valid(asRow(p))).toBeUndefined();
      const h = (p.fields.block as Record<string, Row>).disk0!.rd_latency_histogram as { bins: number[] } | null;
      hist.push(h?.bins ?? null);
      if (i === 0) expect(p.reasons['block.disk0.rd_latency_histogram']).toMatch(/^not set yet on this connection: labtel asks block-latency-histogram-set after this poll's queries/);
      bins = bins.map((b) => b + 1); // I/O since
    }
    expect(count(sent, 'block-latency-histogram-set')).toBe(1);
    expect(hist[0]).toBeNull();
    expect(hist.slice(1)).toEqual([[1, 1, 1, 1, 1, 1, 1], [2, 2, 2, 2, 2, 2, 2], [3, 3, 3, 3, 3, 3, 3]]);
  });

  it('a set never answered: the histograms stay null (saying so) even where QEMU reports some', async () => {
    const c = stub({
      'query-blockstats': () => [{ device: 'disk0', stats: { rd_bytes: 0, rd_latency_histogram: { boundaries: [1], bins: [5, 5] } } }],
      'block-latency-histogram-set': () => {
        throw new Error('block-latency-histogram-set: no reply within 5000 ms');
      },
    });
    const st = newPollState();
    await pollQemu(c, st);
    const p2 = await pollQemu(c, st);
    expect((p2.fields.block as Record<string, Row>).disk0!.rd_latency_histogram).toBeNull();
    expect(p2.reasons['block.disk0.rd_latency_histogram']).toBe(
      `block-latency-histogram-set was not answered (1 of ${SETUP_TRIES} tries on this connection; last: block-latency-histogram-set: no reply within 5000 ms): asked again after the next poll's queries`,
    );
  });
});

describe('one-time setups that QEMU never answers', () => {
  // regression for: a setup command never answered (a timeout is no QapiError) was sent again on every poll, before the
  // later queries, so each poll spent its budget on it and the vCPUs, migration and balloon were "not asked" for the whole connection.
  for (const cmd of ['block-latency-histogram-set', 'migrate-set-capabilities', 'qom-list'] as const) {
    it(`${cmd} never answered: sent at most ${SETUP_TRIES} times, and no poll loses its data to it`, async () => {
      const fake = await fakeQmp();
      fake.on('query-balloon', (req) => okReply(req.id, { actual: 1 }));
      fake.on('query-migrate', (req) => okReply(req.id, {}));
      fake.on(cmd, () => null);
      const run = await runQmpLoop(fake, () => fake.count('query-status') >= SETUP_TRIES + 4, { intervalMs: 20, commandTimeoutMs: 300 });
      expect(fake.count(cmd)).toBeGreaterThanOrEqual(1);
      expect(fake.count(cmd)).toBeLessThanOrEqual(SETUP_TRIES);
      const rows = run.qmp;
      expect(rows.length).toBeGreaterThan(SETUP_TRIES + 1);
      for (const r of rows) {
        expect(valid(r), `seq ${String(r.seq)}`).toBeUndefined();
        expect(r.vcpus, `seq ${String(r.seq)}: ${reasonsOf(r).vcpus}`).not.toBeNull();
        expect(reasonsOf(r).migration).toBe('no migration has run on this QEMU (query-migrate answered without a status)');
        expect(r.balloon_actual_bytes).toBe(1);
      }
      const last = reasonsOf(rows.at(-1)!);
      const key = { 'block-latency-histogram-set': 'block.drive0.rd_latency_histogram', 'migrate-set-capabilities': 'migration_events', 'qom-list': 'balloon_guest' }[cmd];
      const what = cmd === 'qom-list' ? 'balloon setup (qom-list, qom-set)' : cmd;
      expect(last[key]).toMatch(new RegExp(`^${what.replace(/[()]/g, '\\$&')} was not answered ${SETUP_TRIES} times on this connection \\(last: .*\\): not asked again until a reconnect$`));
    });
  }
});

describe('query-stats-schemas never answered', () => {
  // regression for: asked again on every poll with no cap, each poll waiting for it before its KVM statistics.
  it(`sent at most ${SETUP_TRIES} times on a connection; query-stats is still asked, and only the polls that waited for it lose later data (saying so)`, async () => {
    const fake = await fakeQmp();
    fake.on('query-balloon', (req) => okReply(req.id, { actual: 1 }));
    fake.on('query-migrate', (req) => okReply(req.id, {}));
    fake.on('query-stats', (req) => okReply(req.id, []));
    fake.on('query-stats-schemas', () => null);
    const run = await runQmpLoop(fake, () => fake.count('query-status') >= SETUP_TRIES + 4, { intervalMs: 20, commandTimeoutMs: 300 });
    expect(fake.count('query-stats-schemas')).toBeGreaterThanOrEqual(1);
    expect(fake.count('query-stats-schemas')).toBeLessThanOrEqual(SETUP_TRIES);
    expect(fake.count('query-stats')).toBeGreaterThan(SETUP_TRIES);
    const rows = run.qmp;
    expect(rows.length).toBeGreaterThan(SETUP_TRIES + 1);
    let waited = 0;
    for (const r of rows) {
      expect(valid(r), `seq ${String(r.seq)}`).toBeUndefined();
      expect(r.vcpus, `seq ${String(r.seq)}: ${reasonsOf(r).vcpus}`).not.toBeNull(); // asked before it
      if (r.balloon_actual_bytes === 1) continue;
      // A poll that waited for it: what came after is not asked, and the row says why.
      waited++;
      expect(reasonsOf(r).balloon_actual_bytes).toMatch(/not asked: this poll already waited/);
    }
    expect(waited).toBeLessThanOrEqual(SETUP_TRIES);
    expect(rows.at(-1)!.balloon_actual_bytes).toBe(1);
    // query-stats answered [] (as under TCG): null with why, not an empty object that reads as measured (regression).
    expect(rows.at(-1)!.kvm_vm).toBeNull();
    expect(reasonsOf(rows.at(-1)!).kvm_vm).toBe('query-stats answered no vm statistics (query-stats-schemas went unanswered, so labtel asked anyway; KVM statistics exist only under accel=kvm)');
  });
});

describe('QEMU-chosen names in paths labtel sends', () => {
  // regression for: a qom-list child name like `../../objects/secret/../x\n` was put in the qom-set / qom-get paths.
  it('a balloon child whose name is not a QEMU id or device[N] is skipped and counted as a problem; a good one after it is used', async () => {
    const sent: Array<[string, unknown]> = [];
    const problems: string[] = [];
    const c = stub(
      {
        'query-balloon': () => ({ actual: 1 }),
        'qom-list': (a) =>
          a?.path === '/machine/peripheral'
            ? [
                { name: '../../objects/secret/../x\n', type: 'child<virtio-balloon-pci>' },
                { name: 'a/b', type: 'child<virtio-balloon-pci>' },
                { name: 'device[1234567]', type: 'child<virtio-balloon-pci>' },
              ]
            : [{ name: 'device[3]', type: 'child<virtio-balloon-pci>' }],
        'qom-get': () => ({ 'last-update': 0, stats: {} }),
      },
      sent,
    );
    const p = await pollQemu(c, newPollState(), undefined, (kind, m) => problems.push(`${kind}: ${m()}`));
    const paths = sent.filter(([cmd]) => cmd === 'qom-set' || cmd === 'qom-get').map(([, a]) => (a as Row).path);
    expect(paths).toEqual(['/machine/peripheral-anon/device[3]', '/machine/peripheral-anon/device[3]']);
    expect(problems).toHaveLength(3);
    expect(problems[0]).toMatch(/^bad_qom_name: QEMU listed a QOM child named "..\/..\/objects\/secret\/..\/x\\n" \(qom-list\): not a QEMU id or device\[N\], skipped/);
    expect(p.reasons.balloon_guest).toMatch(/^the guest has sent no memory statistics/);
  });

  it('only bad names: no balloon path, and no qom-set or qom-get sent', async () => {
    const sent: Array<[string, unknown]> = [];
    const c = stub({ 'query-balloon': () => ({ actual: 1 }), 'qom-list': () => [{ name: '../x', type: 'child<virtio-balloon-pci>' }] }, sent);
    const p = await pollQemu(c, newPollState());
    expect(sent.filter(([cmd]) => cmd === 'qom-set' || cmd === 'qom-get')).toEqual([]);
    expect(p.reasons.balloon_guest).toMatch(/^query-balloon answers but no virtio-balloon device is a child of/);
  });
});

describe('KVM rates of vCPUs QEMU lists under one key', () => {
  const v = (path: string | undefined, e: number) => ({ provider: 'kvm', ...(path === undefined ? {} : { 'qom-path': path }), stats: [{ name: 'exits', value: e }] });
  const twoPolls = async (first: unknown[], second: unknown[]) => {
    let answer = first;
    const c = stub({ 'query-stats': (a) => (a?.target === 'vcpu' ? answer : []) });
    const st = newPollState();
    await pollQemu(c, st);
    answer = second;
    return pollQemu(c, st);
  };
  // regression for: two vCPUs without a qom-path (both '?') that swapped order gave a rate mixing the two.
  it('no qom-path: no rate, with why; the vCPU with a path is still rated', async () => {
    const p = await twoPolls([v(undefined, 100), v(undefined, 5000), v('/machine/cpu1', 10)], [v(undefined, 5100), v(undefined, 200), v('/machine/cpu1', 20)]);
    const rates = p.fields.kvm_vcpu_rates as Record<string, Row>;
    expect(rates['?']!.exits_per_s).toBeNull();
    expect(p.reasons['kvm_vcpu_rates.?.exits_per_s']).toMatch(/^several vCPUs answered under this key/);
    expect(rates['/machine/cpu1']!.exits_per_s).toEqual(expect.any(Number));
    expect(valid(asRow(p))).toBeUndefined();
  });

  // regression for: two paths equal in their first 256 characters merged under one key, rated as one vCPU.
  it('paths equal in their first 256 characters: no rate, with why', async () => {
    const pre = `/machine/${'x'.repeat(300)}`;
    const p = await twoPolls([v(`${pre}A`, 100), v(`${pre}B`, 9000)], [v(`${pre}B`, 9100), v(`${pre}A`, 200)]);
    const rates = Object.values(p.fields.kvm_vcpu_rates as Record<string, Row>);
    expect(rates).toHaveLength(1);
    expect(rates[0]!.exits_per_s).toBeNull();
    expect(Object.entries(p.reasons).filter(([k]) => k.startsWith('kvm_vcpu_rates.') && k.endsWith('.exits_per_s')).map(([, w]) => w)).toEqual([
      expect.stringMatching(/^several vCPUs answered under this key \(no qom-path, or QOM paths equal in their first 256 characters\)/),
    ]);
  });
});

describe('nested null_reasons past their bound', () => {
  // regression for: the 64 nested reasons were shared by block and kvm_vcpu_rates, and the cut said "inside block devices" when the rates' were left out.
  it('the cut names where reasons were left out (kvm_vcpu_rates)', async () => {
    let k = 0;
    const c = stub({
      'query-stats': (a) => (a?.target !== 'vcpu' ? [] : Array.from({ length: 20 }, (_, i) => ({ provider: 'kvm', 'qom-path': `/machine/cpu${i}`, stats: k === 0 ? [] : [{ name: 'exits', value: 1 }] }))),
    });
    const st = newPollState();
    await pollQemu(c, st);
    k = 1;
    const p = await pollQemu(c, st);
    // 20 vCPUs x 8 rates, each null with a reason; 64 kept.
    expect(Object.keys(p.reasons).filter((x) => x.startsWith('kvm_vcpu_rates.'))).toHaveLength(QMP_BOUNDS.nestedReasons);
    expect(p.cut.null_reasons).toBe(`${20 * 8 - 64} null_reasons inside kvm_vcpu_rates left out (the first 64 inside block and kvm_vcpu_rates are kept): a null there without its own reason is one of these`);
  });
});

describe('truthful reasons at the limits of a connection', () => {
  // regression for: after 256 devices were set on one connection, a new device was never set and its reason still said "labtel sets ... with this poll".
  it(`past ${QMP_BOUNDS.devices} devices set on a connection, a new device says it will not be set`, async () => {
    const sent: Array<[string, unknown]> = [];
    let gen = 0;
    const c = stub(
      { 'query-blockstats': () => (gen === 0 ? Array.from({ length: QMP_BOUNDS.devices }, (_, i) => ({ device: `d${i}`, stats: { rd_bytes: 0 } })) : [{ device: 'realdisk', stats: { rd_bytes: 0 } }]) },
      sent,
    );
    const st = newPollState();
    await pollQemu(c, st);
    gen = 1;
    const p = await pollQemu(c, st);
    await pollQemu(c, st);
    expect(count(sent, 'block-latency-histogram-set')).toBe(QMP_BOUNDS.devices);
    expect(p.reasons['block.realdisk.rd_latency_histogram']).toBe(`not set: labtel sets latency histograms on at most ${QMP_BOUNDS.devices} devices per connection`);
  });

  it('a migrate-set-capabilities refusal says on later rows that it is not asked again', async () => {
    const sent: Array<[string, unknown]> = [];
    const c = stub(
      {
        'query-migrate': () => ({}),
        'migrate-set-capabilities': () => {
          throw new QapiError('migrate-set-capabilities', 'GenericError', 'There is a migration process in progress');
        },
      },
      sent,
    );
    const st = newPollState();
    await pollQemu(c, st);
    const p = await pollQemu(c, st);
    expect(count(sent, 'migrate-set-capabilities')).toBe(1);
    expect(p.reasons.migration_events).toBe('migrate-set-capabilities: QEMU answered GenericError: There is a migration process in progress (not asked again on this connection)');
  });
});

describe('balloon statistics from the future', () => {
  // regression for: a last-update far ahead of the host's clock written as statistics of a time that has not come.
  it('last-update more than 60 s after labtel\'s wall clock: null with why', async () => {
    const c = stub({
      'query-balloon': () => ({ actual: 1 }),
      'qom-list': () => [{ name: 'balloon0', type: 'child<virtio-balloon-pci>' }],
      'qom-get': () => ({ 'last-update': 32503680000, stats: { 'stat-free-memory': 1 } }),
    });
    const p = await pollQemu(c, newPollState());
    expect(p.fields.balloon_guest).toBeNull();
    expect(p.reasons.balloon_guest).toMatch(/^QEMU sent last-update 32503680000, \d+ s after labtel's wall clock at its answer \(more than 60 s\)/);
  });
});
