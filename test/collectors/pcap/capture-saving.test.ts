// What the pcap collector keeps across tcpdump runs: a restarted tcpdump
// whose stream header differs (another snaplen, link type or byte order)
// would make the saved file lie about the records after it, so saving must
// stop there, once, saying so in a saving_stopped row at the right stream
// offset, while the offset goes on counting what was captured.
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CaptureSaving } from '../../../src/collectors/pcap/capture-saving.js';
import { listCaptureFiles } from '../../../src/collectors/pcap/capture-files.js';
import type { PcapEventRow } from '../../../src/collectors/pcap/rows.js';
import { pcapHeader, pcapRecord, tcpFrame, GUEST, PEER, T0_US } from '../../helpers/capture.js';
import { tmpDir } from '../../helpers/tmp.js';

const rec = pcapRecord(T0_US, tcpFrame(PEER, GUEST)); // 70 bytes

function saving(keep_pcap: boolean) {
  const dir = tmpDir();
  const events: PcapEventRow[] = [];
  const errors: string[] = [];
  let run = 0;
  const s = new CaptureSaving({
    config: { keep_pcap, rotate_mb: 1, max_total_mb: 10 },
    episodeDir: dir,
    now: () => 42,
    run: () => run,
    event: (e) => events.push(e),
    reportError: (m) => errors.push(m),
  });
  return { dir, s, events, errors, nextRun: () => run++ };
}

describe('CaptureSaving', () => {
  it('a run whose header changed stops saving once, at that offset; the records before it stay whole in the file', () => {
    const { dir, s, events, errors, nextRun } = saving(true);
    s.records(Buffer.concat([rec, rec]), pcapHeader(), true);
    nextRun();
    s.records(rec, pcapHeader(), true); // the same header in run 1: saved on
    nextRun();
    s.records(rec, pcapHeader(1500), true); // run 2: another snaplen
    s.records(rec, pcapHeader(1500), false);
    s.close();
    expect(events).toEqual([
      {
        event: 'saving_stopped',
        run: 2,
        at_ns: 42,
        stream_offset: 24 + 3 * 70,
        message: `tcpdump's stream header changed in run 2 (${pcapHeader(1500).toString('hex')} after ${pcapHeader().toString('hex')}); the files end before it`,
      },
    ]);
    expect(errors).toEqual([`pcap: saving stopped: ${events[0]!.message}`]);
    expect(s.streamOffset).toBe(24 + 5 * 70);
    expect(s.savedBytes).toBe(24 + 3 * 70);
    expect(listCaptureFiles(dir).map((f) => fs.statSync(f).size)).toEqual([24 + 3 * 70]);
  });

  it('keep_pcap false: nothing on disk, saved bytes null (not 0), the offset still counted', () => {
    const { dir, s, events } = saving(false);
    s.records(rec, pcapHeader(), true);
    s.close();
    expect({ saved: s.savedBytes, offset: s.streamOffset, events, files: listCaptureFiles(dir) }).toEqual({ saved: null, offset: 24 + 70, events: [], files: [] });
  });
});
