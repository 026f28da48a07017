// A hostile publisher against labtel pull (a real nats-server): names the
// forwarder never makes are rejected, not turned into paths the filesystem
// refuses.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { pull } from '../../src/sinks/nats/pull.js';
import { publish, startNats } from '../helpers/nats.js';
import { tmpDir } from '../helpers/tmp.js';

const NONE = { subject: 0, not_a_row: 0, wrong_source: 0, seq_order: 0, not_an_object: 0, unwritable: 0 };
const ROW = (seq: number) => JSON.stringify({ source: 'host_proc', t_mono_ns: seq, seq, available_in_deployment: true });

describe('labtel pull against names longer than a file name', () => {
  // regression for: a host, episode or source token of 300 characters passed the plain-name check, mkdir/open
  // failed with ENAMETOOLONG, the pull threw before acknowledging it, and every later pull met the same message
  // first: one message stopped every pull for good. The forwarder's tokens are at most 128 characters (subjectToken).
  it('a token over 128 characters is rejected and counted; the rows after it are written, and a second pull is clean', async () => {
    const nats = await startNats();
    const long = 'h'.repeat(300);
    await publish(nats.url, [
      [`labtel.${long}.ep.host_proc`, ROW(0)],
      [`labtel.lab.${long}.host_proc`, ROW(0)],
      [`labtel.lab.ep.${'s'.repeat(300)}`, ROW(0)],
      [`labtel.lab.ep._${'e'.repeat(300)}`, '{}'],
      ['labtel.lab.ep.host_proc', ROW(0)],
      [`labtel.${'h'.repeat(128)}.ep.host_proc`, ROW(0)],
    ]);
    const out = path.join(tmpDir(), 'pulled');
    const r = await pull({ servers: [nats.url], stream: 'LABTEL', out, durable: 'test' });
    expect(r).toMatchObject({ rows: 2, skipped: 0, episodes: ['lab/ep', `${'h'.repeat(128)}/ep`] });
    expect(r.rejected).toEqual({ ...NONE, subject: 4 });
    expect(r.setAside.subject?.map((e) => e.subject.slice(0, 20))).toEqual([`labtel.${'h'.repeat(13)}`, `labtel.lab.${'h'.repeat(9)}`, `labtel.lab.ep.${'s'.repeat(6)}`, `labtel.lab.ep._${'e'.repeat(5)}`]);
    expect(fs.readFileSync(path.join(out, 'lab', 'ep', 'telemetry-proc.jsonl'), 'utf8')).toBe(`${ROW(0)}\n`);
    // Everything was acknowledged: nothing left to stop the next pull.
    expect(await pull({ servers: [nats.url], stream: 'LABTEL', out, durable: 'test' })).toEqual({ rows: 0, skipped: 0, episodes: [], rejected: NONE, setAside: {}, held: 0, moreEpisodes: false });
  });
});
