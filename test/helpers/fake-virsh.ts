// A stand-in for virsh that relays what a hostile QEMU would send, for what
// no real libvirtd will do on demand: a reply of 11 MiB, one nested past the
// bound, a flood of events, event data that is not JSON, a command that never
// ends. Its one running domain is 'hostile', id 7 (`list`). It speaks virsh's shell as the real one does here (python3): echoes
// each command with a prompt, `echo --err -- M` to stderr as "error: M",
// `echo -- M` with no line end, and `qemu-monitor-event --loop` lines
// "event NAME at S.U for domain 'D': DATA".
import fs from 'node:fs';
import path from 'node:path';
import { tmpDir } from './tmp.js';

export type FakeVirshScenario =
  | 'ok' // query-version and query-status answer; no events
  | 'huge_reply' // query-status answers with a line of 11 MiB, an agent command with one of 5 MiB
  | 'deep_reply' // query-status and agent commands answer nested 100 deep
  | 'event_flood' // 5,000 STOP events at once
  | 'bad_event' // one event whose data is not JSON, then one good one
  | 'hang' // query-status and agent commands never answer
  | 'many_lines' // query-status and agent commands answer with 2,000 lines of 8 KB (16 MB in all, each line within bounds)
  | 'early_event' // one event at once, while the shell takes 500 ms before reading its first command
  | 'agent_lacks'; // the agent lacks guest-get-memory-blocks: libvirt's error on stderr, as a real libvirtd prints it

const SCRIPT = String.raw`
import json, os, sys, time
scenario = os.environ['FAKE_VIRSH_SCENARIO']
args = sys.argv[1:]
out = sys.stdout
if 'qemu-monitor-event' in args:
    dom = args[args.index('--domain') + 1]
    if scenario == 'event_flood':
        for i in range(5000):
            out.write("event STOP at 1796500000.%06d for domain '%s': <null>\n" % (i % 1000000, dom))
    if scenario == 'early_event':
        out.write("event STOP at 1796500000.000003 for domain '%s': <null>\n" % dom)
    if scenario == 'bad_event':
        out.write("event STOP at 1796500000.000001 for domain '%s': {not json\n" % dom)
        out.write("event RESUME at 1796500000.000002 for domain '%s': {\"reason\":\"x\"}\n" % dom)
    out.flush()
    time.sleep(3600)
    sys.exit(0)
if scenario == 'early_event':
    time.sleep(0.5)
version = '{"return":{"qemu":{"micro":0,"minor":2,"major":7},"package":"fake"},"id":"libvirt-1"}'
def answer(huge, tail, value):
    # The scenario's answer to a command: huge bytes of string, nested 100 deep, none, or value; tail after it.
    if scenario == 'huge_reply':
        out.write('{"return":"' + 'x' * huge + '"' + tail + '}\n')
    elif scenario == 'deep_reply':
        out.write('{"return":' + '[' * 100 + ']' * 100 + tail + '}\n')
    elif scenario == 'hang':
        out.flush(); time.sleep(3600)
    elif scenario == 'many_lines':
        for i in range(2000):
            out.write('{"x":"' + 'y' * 8000 + '"}\n')
    else:
        out.write('{"return":' + value + tail + '}\n')
    out.flush()
for line in sys.stdin:
    line = line.rstrip('\n')
    out.write('virsh # ' + line + '\n')
    out.flush()
    if line.startswith('echo --err -- '):
        sys.stderr.write('error: ' + line[len('echo --err -- '):] + '\n'); sys.stderr.flush()
    elif line.startswith('echo -- '):
        out.write(line[len('echo -- '):]); out.flush()
    elif line == "'list'":
        out.write(' 7    hostile   running\n'); out.flush()
    elif line.startswith("'qemu-agent-command'"):
        if scenario == 'agent_lacks' and 'guest-get-memory-blocks' in line:
            sys.stderr.write("error: internal error: unable to execute QEMU agent command 'guest-get-memory-blocks': The command guest-get-memory-blocks has not been found\n"); sys.stderr.flush()
        else:
            answer(5 << 20, '', '[{"cpu":0,"user":7,"system":3}]')
    elif 'query-version' in line:
        out.write(version + '\n\n'); out.flush()
    elif 'query-status' in line:
        answer(11 << 20, ',"id":"libvirt-2"', '{"status":"running","singlestep":false,"running":true}')
`;

/** The stand-in's path: run with FAKE_VIRSH_SCENARIO set (the link passes the environment on). */
export function fakeVirsh(scenario: FakeVirshScenario): string {
  const dir = tmpDir('labtel-fake-virsh-');
  const py = path.join(dir, 'fake_virsh.py');
  fs.writeFileSync(py, SCRIPT);
  const sh = path.join(dir, 'virsh');
  fs.writeFileSync(sh, `#!/bin/sh\nFAKE_VIRSH_SCENARIO=${scenario} exec python3 ${py} "$@"\n`, { mode: 0o755 });
  return sh;
}
