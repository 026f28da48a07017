// Writes a synthetic episode directory for bench:report: every collector's rows
// as the collectors write them (every field of their schemas), episode.json and
// summary.json, so `labtel verify` judges it like a real one and the report
// draws what a real one would give it. Over SECONDS of episode time:
//   proc at 100 ms: the process and 8 threads (4 named vCPU threads) per sample,
//   and its host_cgroup rows at 1 s (v2 beside v1: the cpu and memory controllers' fields null),
//   perf at 200 ms, netflow 100 ms buckets inside one capture run, pcap interval
//   rows, qmp polls and guest lines and channel rows at 1 s, and a QMP STOP at
//   90 s then a RESUME 180 s later, every 360 s (qmp status follows them).
// Returns the rows written per source.
import fs from 'node:fs';
import path from 'node:path';

type Row = Record<string, unknown>;

const wave = (t: number, p: number) => 0.5 + 0.5 * Math.sin((2 * Math.PI * t) / p);

/** `cgroup: false`: without host_cgroup rows (what the frozen report of test/report/legacy/ knew). */
export function generateEpisode(dir: string, seconds: number, opts: { cgroup?: boolean } = {}): Record<string, number> {
  const withCgroup = opts.cgroup ?? true;
  const written: Record<string, number> = {};
  const seqs = new Map<string, number>();
  const env = (source: string, t: number) => {
    const seq = seqs.get(source) ?? 0;
    seqs.set(source, seq + 1);
    written[source] = seq + 1;
    return { source, t_mono_ns: Math.round(t * 1e9), seq, available_in_deployment: true };
  };
  const lines: Record<string, number> = {};
  const w = (name: string, rows: Iterable<Row>) => {
    const fd = fs.openSync(path.join(dir, `telemetry-${name}.jsonl`), 'w');
    let buf = '';
    let n = 0;
    for (const r of rows) {
      buf += JSON.stringify(r) + '\n';
      n++;
      if (buf.length > 1 << 20) (fs.writeSync(fd, buf), (buf = ''));
    }
    fs.writeSync(fd, buf);
    fs.closeSync(fd);
    lines[name] = n;
  };

  const collectors = {
    proc: { enabled: true, optional: false, interval_ms: 100, threads: true, cgroup: withCgroup, cgroup_interval_ms: 1000 },
    perf: { enabled: true, optional: false, interval_ms: 200 },
    pcap: { enabled: true, optional: false, interval_ms: 1000, iface: 'tap0' },
    netflow: { enabled: true, optional: false, bucket_ms: 100, guest_ip: '10.200.0.10' },
    qmp: { enabled: true, optional: false, interval_ms: 1000, socket: '/run/qmp.sock' },
    guest_agent: { enabled: true, optional: false, interval_ms: 1000, socket: '/run/guest.sock', protocol: 'jsonl' },
  };
  fs.writeFileSync(
    path.join(dir, 'episode.json'),
    JSON.stringify({ episode: 'bench-report', clock: { clk_tck: 100 }, host: { cpu: { cores: 4 } }, manifest: { output_dir: dir, target: { pid: 4242 }, collectors } }),
  );

  const pid = 4242;
  const threads = Array.from({ length: 8 }, (_, k) => ({ tid: pid + k, comm: k > 0 && k <= 4 ? `CPU ${k - 1}/KVM` : 'qemu-system-x86', vcpu: k > 0 && k <= 4 ? k - 1 : null }));
  // Cumulative CPU ticks, from rates that vary (the threads' sum stays below the process's).
  const cpu = { user: 0, sys: 0, threads: threads.map(() => 0) };
  w('proc', (function* () {
    for (let i = 0; i < seconds * 10; i++) {
      const t = i / 10;
      if (i > 0) {
        cpu.user += 0.1 * 40 * (1 + wave(t, 300));
        cpu.sys += 0.1 * 10;
        for (let k = 0; k < threads.length; k++) cpu.threads[k]! += 0.1 * 0.5 * (k + 1) * (1 + wave(t, 120 + k));
      }
      yield {
        ...env('host_proc', t), pid, starttime: 5000, process_event: i === 0 ? 'started' : null, interval_s: i === 0 ? null : 0.1, state: 'S', processor: i % 4,
        cpu_user_jiffies: Math.round(cpu.user), cpu_sys_jiffies: Math.round(cpu.sys), minflt: 1000 + i, majflt: 0, num_threads: threads.length,
        vsize_bytes: 4e9, rss_bytes: Math.round(5e8 + 1e8 * wave(t, 900)), shared_bytes: 2e7, text_bytes: 1e7, data_bytes: 3e8, rss_peak_bytes: 6e8, swap_bytes: 0,
        voluntary_ctxt_switches: 10 * i, nonvoluntary_ctxt_switches: i, io_rchar: 4096 * i, io_wchar: 8192 * i, io_read_bytes: 0, io_write_bytes: 4096 * i,
        // The whole process's CPU clock: its threads' time (below) and nothing else here, as the kernel counts it.
        cpu_time_ns: cpu.threads.reduce((a, x) => a + Math.round(x * 1e7), 0),
        // taskstats of the thread group: its threads' figures (below), summed as the kernel sums them.
        run_delay_ns: threads.reduce((a, _th, k) => a + 25_000 * i + k, 0), run_periods: threads.length * (3 * i + 1),
      };
      for (const [k, th] of threads.entries()) {
        yield {
          ...env('host_proc', t), pid, tid: th.tid, comm: th.comm, vcpu: th.vcpu, role: th.vcpu !== null ? 'vcpu' : k === 0 ? 'main' : 'other',
          starttime: 5000 + k, interval_s: i === 0 ? null : 0.1, state: 'S', processor: k % 4,
          cpu_user_jiffies: Math.round(cpu.threads[k]!), cpu_sys_jiffies: Math.round(t * 0.2), minflt: i, majflt: 0,
          cpu_time_ns: Math.round(cpu.threads[k]! * 1e7), run_delay_ns: 25_000 * i + k, run_periods: 3 * i + 1,
        };
      }
      if (withCgroup && i % 10 === 0) {
        // As on a host with cgroup v2 beside v1 (the cpu and memory controllers on v1): pressure and usage only.
        const v1 = (c: string) => `the ${c} controller is not enabled for this cgroup (its cgroup.controllers is empty); ${c} is on cgroup v1 here (/sys/fs/cgroup/${c}), which labtel does not read`;
        const cpuAbsent = Object.fromEntries(['nr_periods', 'nr_throttled', 'throttled_usec'].map((k) => [`cpu_${k === 'throttled_usec' ? 'throttled_us' : k}`, `cpu.stat has no ${k}: ${v1('cpu')}`]));
        const memAbsent = Object.fromEntries(['memory_current_bytes', 'memory_events_low', 'memory_events_high', 'memory_events_max', 'memory_events_oom', 'memory_events_oom_kill'].map((f) => [f, `${f === 'memory_current_bytes' ? 'memory.current' : 'memory.events'} is absent: ${v1('memory')}`]));
        const user = Math.round((1e6 * cpu.user) / 100);
        const sys = Math.round((1e6 * cpu.sys) / 100);
        yield {
          ...env('host_cgroup', t), null_reasons: { ...(i === 0 ? { interval_s: 'first row' } : {}), ...cpuAbsent, ...memAbsent },
          pid, cgroup_path: '/machine.slice/qemu-4242.scope', cgroup_mount: '/sys/fs/cgroup/unified', cgroup_inode: 4711, cgroup_root: false, cgroup_other_processes: 0, cgroup_event: i === 0 ? 'started' : null, interval_s: i === 0 ? null : 1,
          cpu_pressure_some_total_us: Math.round(t * 2e5 * (0.5 + wave(t, 240))), cpu_pressure_full_total_us: Math.round(t * 5e4), memory_pressure_some_total_us: 0, memory_pressure_full_total_us: 0,
          io_pressure_some_total_us: Math.round(t * 1e4), io_pressure_full_total_us: Math.round(t * 4e3), cpu_usage_us: user + sys, cpu_user_us: user, cpu_system_us: sys,
          cpu_nr_periods: null, cpu_nr_throttled: null, cpu_throttled_us: null, memory_current_bytes: null, memory_events_low: null, memory_events_high: null, memory_events_max: null, memory_events_oom: null, memory_events_oom_kill: null,
        };
      }
    }
  })());
  w('perf', (function* () {
    for (let i = 0; i < seconds * 5; i++) {
      const t = (i + 1) / 5;
      yield {
        ...env('host_perf', t), pid, process_event: i === 0 ? 'started' : null, interval_s: 0.2, perf_interval_s: t,
        cycles: 5e8, instructions: Math.round(7e8 * (0.5 + wave(t, 100))), branches: 1e8, branch_misses: 1e6, cache_references: 1e7, cache_misses: 1e6,
        page_faults: Math.round(1000 * wave(t, 50)), context_switches: 300, cpu_clock_ms: 150 * wave(t, 200),
        running_pct: { cycles: 100, instructions: 100 }, other: {},
      };
    }
  })());
  let total = 0;
  const pktsAt = (i: number) => {
    const pin = Math.round(500 * wave(i / 10, 60));
    const pout = Math.round(400 * wave(i / 10, 45));
    return { pin, pout };
  };
  w('netflow', (function* () {
    for (let i = 0; i < seconds * 10; i++) {
      const { pin, pout } = pktsAt(i);
      const n = pin + pout;
      const udp = Math.floor(n / 5);
      const icmp = Math.floor(n / 50);
      yield {
        ...env('netflow', i / 10), bucket_ms: 100, partial: false, empty_buckets_skipped: 0, pkts_in: pin, pkts_out: pout, bytes_in: pin * 120, bytes_out: pout * 125, pkts_unmatched: 0, bytes_unmatched: 0,
        flows: Math.min(n, 40), new_flows: Math.min(n, 4), peers: Math.min(n, 12), dst_ports: Math.min(n, 9), distinct_estimated: false,
        tcp_syn: i % 1000 < 50 ? Math.min(300, n - udp - icmp) : Math.min(2, n - udp - icmp), tcp_synack: 0, tcp_fin: 0, tcp_rst: Math.min(1, n - udp - icmp),
        pkts_tcp: n - udp - icmp, pkts_udp: udp, pkts_icmp: icmp, pkts_other_ip: 0, pkts_arp: 0, pkts_non_ip: 0, pkts_truncated: 0, pkts_malformed: 0, pkts_late: 0,
      };
    }
  })());
  w('pcap', (function* () {
    yield { ...env('pcap', 0), event: 'capture_started', run: 0, at_ns: 0, stream_offset: 0, message: null };
    let saved = 24;
    const ifc = { rx: 5000, tx: 4000, rxb: 600_000, txb: 480_000 }; // counted before the episode began
    for (let s = 1; s <= seconds; s++) {
      let pkts = 0;
      let bytes = 0;
      for (let i = (s - 1) * 10; i < s * 10; i++) {
        const { pin, pout } = pktsAt(i);
        pkts += pin + pout;
        bytes += pin * 120 + pout * 125;
        // The tap's own counters: it receives what the guest sends (out), sends what comes in.
        ifc.rx += pout, ifc.tx += pin, ifc.rxb += pout * 125, ifc.txb += pin * 120;
      }
      total += pkts;
      saved += bytes + 16 * pkts;
      yield {
        ...env('pcap', s), run: 0, interval_s: 1, tcpdump_running: true, pkts, bytes, pkts_total: total, filter_received: total, kernel_drops: 0, if_drops: 0,
        drops_lower_bound: false, saved_bytes: saved,
        if_ifindex: 7, if_tx_queue_frames: 1000, if_rx_packets: ifc.rx, if_tx_packets: ifc.tx, if_rx_bytes: ifc.rxb, if_tx_bytes: ifc.txb, if_rx_dropped: 0, if_tx_dropped: 0, if_rx_errors: 0, if_tx_errors: 0,
      };
    }
    yield { ...env('pcap', seconds), event: 'capture_ended', run: 0, at_ns: Math.round(seconds * 1e9), stream_offset: 0, message: 'stopped' };
  })());
  const paused = (t: number) => t % 360 >= 90.5 && t % 360 < 270.5;
  let wr = 0;
  const HIST_NS = [10_000, 100_000, 1_000_000, 10_000_000, 100_000_000, 1_000_000_000];
  w('qmp', (function* () {
    for (let i = 0; i < seconds; i++) {
      wr += Math.round(8192 * (1 + wave(i, 600)));
      yield {
        ...env('qmp', i), status: paused(i) ? 'paused' : 'running', running: !paused(i),
        block: { disk0: { rd_bytes: i * 40960, wr_bytes: wr, rd_operations: i * 10, wr_operations: i * 2, flush_operations: i, rd_total_time_ns: i * 1e6, wr_total_time_ns: i * 2e6, flush_total_time_ns: i * 1e5, failed_rd_operations: 0, failed_wr_operations: 0, failed_flush_operations: 0, idle_time_ns: 1e8, rd_latency_histogram: { boundaries: HIST_NS, bins: [0, i * 4, i * 5, i, 0, 0, 0] }, wr_latency_histogram: { boundaries: HIST_NS, bins: [0, i, i, 0, 0, 0, 0] }, flush_latency_histogram: { boundaries: HIST_NS, bins: [0, 0, i, 0, 0, 0, 0] } } },
        vcpus: threads.filter((th) => th.vcpu !== null).map((th) => ({ cpu_index: th.vcpu, thread_id: th.tid, qom_path: `/machine/unattached/device[${th.vcpu}]` })),
        kvm_vm: null, kvm_vcpu: null, kvm_vcpu_rates: null, kvm_rate_window_ms: null, balloon_actual_bytes: null, balloon_guest: null, migration: null, migration_events: true,
        poll_ms: 1.2, events_dropped: 0, events_dropped_by: null, problems: {}, cut: null,
        null_reasons: {
          kvm_vm: 'QEMU has KVM statistics only under KVM', kvm_vcpu: 'QEMU has KVM statistics only under KVM', kvm_vcpu_rates: 'no per-vCPU KVM statistics this poll', kvm_rate_window_ms: 'no per-vCPU KVM statistics this poll',
          balloon_actual_bytes: 'no balloon device', balloon_guest: 'no balloon device', migration: 'no migration has run on this QEMU (query-migrate answered without a status)',
        },
      };
      if (i % 180 === 90) yield { ...env('qmp_event', i + 0.5), event: i % 360 === 90 ? 'STOP' : 'RESUME', data: null, qemu_wall_ns: null, time_source: 'received' };
    }
  })());
  w('guest_agent', (function* () {
    let bytes = 0;
    for (let i = 0; i < seconds; i++) {
      const guest = { seq: i, uptime: i, cpu: { user: i * 50, idle: i * 40 }, mem: { free_kb: Math.round(100000 * wave(i, 700)) } };
      bytes += JSON.stringify(guest).length + 1;
      yield { ...env('guest', i + 0.25), kind: 'line', guest, guest_t: i };
      yield {
        ...env('guest', i + 0.5), kind: 'channel', connected: true, connections: 1, connections_refused: 0, lines: i + 1, bytes,
        dropped_oversize: 0, dropped_rate: 0, dropped_invalid_utf8: 0, dropped_invalid_json: 0, dropped_too_deep: 0, dropped_not_object: 0,
        dropped_byte_rate: 0, dropped_total_cap: 0, dropped_unasked: 0, bytes_written: Math.round(bytes * 1.3),
      };
    }
  })());

  const ok = (rows: number, sources: string[]) => ({ status: 'ok', reason: null, rows, errors: [], end: 'stopped', file: null, sources, detail: {} });
  fs.writeFileSync(
    path.join(dir, 'summary.json'),
    JSON.stringify({
      episode: 'bench-report', labtel_version: 'bench', exit_reason: 'duration', t_mono_start_ns: 0, t_mono_stop_ns: Math.round(seconds * 1e9), agent: { cpu_s: 0, peak_rss_bytes: 0 },
      collectors: {
        proc: { ...ok(lines.proc!, withCgroup ? ['host_proc', 'host_cgroup'] : ['host_proc']), file: 'telemetry-proc.jsonl' },
        perf: { ...ok(lines.perf!, ['host_perf']), file: 'telemetry-perf.jsonl' },
        pcap: { ...ok(lines.pcap!, ['pcap']), file: 'telemetry-pcap.jsonl' },
        netflow: { ...ok(lines.netflow!, ['netflow']), file: 'telemetry-netflow.jsonl' },
        qmp: { ...ok(lines.qmp!, ['qmp', 'qmp_event']), file: 'telemetry-qmp.jsonl' },
        guest_agent: { ...ok(lines.guest_agent!, ['guest']), file: 'telemetry-guest_agent.jsonl' },
      },
    }),
  );
  return written;
}
