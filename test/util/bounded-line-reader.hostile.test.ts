// BoundedLineReader against streams a hostile guest controls: how the bytes
// are cut into reads, lines longer than the bound (ending at once, or many
// reads later, or never), CRLF line ends, and connections that end mid-line.
// Each case checks what was delivered, what was counted, and that the bytes
// held for an unfinished line (`pending`) never exceed max_line_bytes.
import { describe, expect, it } from 'vitest';
import { BoundedLineReader } from '../../src/util/bounded-line-reader.js';

/** A reader that records its lines (as strings, copied) and checks its bound after every push. */
function recorder(maxBytes: number) {
  const lines: string[] = [];
  const reader = new BoundedLineReader(maxBytes, (l) => lines.push(Buffer.from(l).toString('latin1')));
  let peak = 0;
  const push = (chunk: Buffer | string) => {
    reader.push(typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : chunk);
    peak = Math.max(peak, reader.pending);
    expect(reader.pending).toBeLessThanOrEqual(maxBytes);
  };
  return { reader, lines, push, peak: () => peak };
}

/** `stream` cut into reads of `size` bytes (the last one shorter). */
const chunks = (stream: Buffer, size: number): Buffer[] => {
  const out: Buffer[] = [];
  for (let i = 0; i < stream.length; i += size) out.push(stream.subarray(i, i + size));
  return out;
};

/** A deterministic PRNG, so a failing split can be replayed. */
function prng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const MAX = 16;
// Lines of every interesting length around MAX = 16: empty, short, exactly
// MAX (kept), MAX + 1 and much longer (dropped), CRLF-ended, and the last one
// unfinished (never a line).
const STREAM = Buffer.from(
  [
    'a',
    '',
    '0123456789abcdef', // exactly MAX: kept
    '0123456789abcdefX', // MAX + 1: dropped
    'bb',
    'x'.repeat(50), // far over MAX: dropped
    '',
    '{"k":1}\r', // CRLF: the reader keeps the \r (judgeLine strips it)
    'y'.repeat(17), // dropped
    'y'.repeat(17), // dropped again: counted again
    'last',
  ].join('\n') + '\nunfinished',
  'latin1',
);
const KEPT = ['a', '', '0123456789abcdef', 'bb', '', '{"k":1}\r', 'last'];
const DROPPED = 4;

describe('BoundedLineReader', () => {
  // Guards against: a line cut across reads (the socket decides where) being
  // split, merged with its neighbour, or lost, and a cut landing exactly on a
  // newline or on the byte after the bound changing what is kept.
  it('gives the same lines and counts for a stream cut into reads of every size from 1 byte to the whole stream', () => {
    expect(STREAM.length).toBeGreaterThan(0);
    for (let size = 1; size <= STREAM.length; size++) {
      const r = recorder(MAX);
      for (const c of chunks(STREAM, size)) r.push(c);
      expect(r.lines, `reads of ${size} bytes`).toEqual(KEPT);
      expect(r.reader.oversize, `reads of ${size} bytes`).toBe(DROPPED);
      expect(r.reader.pending).toBe('unfinished'.length);
      r.reader.end();
      expect(r.reader.pending).toBe(0);
      expect(r.lines).toEqual(KEPT); // the unfinished line never became one
    }
  });

  // Guards against: the same, at irregular cuts, including empty reads.
  it('gives the same lines for 500 random cuttings of the stream, with empty reads among them', () => {
    const rnd = prng(42);
    for (let trial = 0; trial < 500; trial++) {
      const r = recorder(MAX);
      let i = 0;
      while (i < STREAM.length) {
        const n = Math.floor(rnd() * 24); // 0: an empty read
        r.push(STREAM.subarray(i, i + n));
        i += n;
      }
      expect(r.lines, `trial ${trial}`).toEqual(KEPT);
      expect(r.reader.oversize, `trial ${trial}`).toBe(DROPPED);
    }
  });

  // Guards against: a kept line's bytes being a view of a read that is then
  // reused or modified, so a later push changes a line already delivered.
  it('a line held over several reads is delivered as its own bytes', () => {
    const kept: Buffer[] = [];
    const reader = new BoundedLineReader(64, (l) => kept.push(l));
    const a = Buffer.from('hel');
    reader.push(a);
    a.fill(0x5a); // the caller reuses its buffer: the held part must be a copy
    reader.push(Buffer.from('lo\n'));
    expect(kept.map((b) => b.toString())).toEqual(['hello']);
  });

  // Guards against: the bound being off by one (a line of exactly max bytes
  // refused, or one of max + 1 kept), whether the excess shows at once or only
  // when the newline comes.
  it('keeps a line of exactly max_line_bytes and drops one of max + 1, in one read or byte by byte', () => {
    for (const split of [false, true]) {
      const r = recorder(8);
      const input = 'abcdefgh\nabcdefghi\nok\n';
      if (split) for (const ch of input) r.push(ch);
      else r.push(input);
      expect(r.lines).toEqual(['abcdefgh', 'ok']);
      expect(r.reader.oversize).toBe(1);
      expect(r.peak()).toBeLessThanOrEqual(8);
    }
  });

  // Guards against: an oversize line whose newline arrives much later being
  // counted once per read, its tail being taken as a line, or the line after
  // it being lost; and against memory growing with the oversize line.
  it('an oversize line whose newline comes 1000 reads later: dropped and counted once, the next line kept, nothing held meanwhile', () => {
    const r = recorder(1024);
    r.push('good-1\n' + 'x'.repeat(1000)); // within the bound so far: held
    expect(r.reader.pending).toBe(1000);
    r.push('x'.repeat(100)); // now past it: dropped at once, nothing held
    expect(r.reader.oversize).toBe(1);
    expect(r.reader.pending).toBe(0);
    for (let i = 0; i < 1000; i++) {
      r.push(Buffer.alloc(4096, i % 2 ? 0x7b : 0x22)); // `{` and `"`: would look like JSON if kept
      expect(r.reader.pending).toBe(0);
    }
    r.push('tail-of-the-oversize-line\ngood-2\npart');
    expect(r.lines).toEqual(['good-1', 'good-2']);
    expect(r.reader.oversize).toBe(1);
    expect(r.reader.pending).toBe(4);
    r.push('ial\n');
    expect(r.lines).toEqual(['good-1', 'good-2', 'partial']);
  });

  // Guards against: a single read far larger than the bound (a 4 MiB read with
  // max 1 MiB) being copied into the reader before it is judged.
  it('one read of 4 MiB without a newline holds nothing; the newline in a later read resynchronizes', () => {
    const r = recorder(1 << 20);
    r.push(Buffer.alloc(4 << 20, 0x61));
    expect(r.reader.pending).toBe(0);
    expect(r.reader.oversize).toBe(1);
    r.push(Buffer.concat([Buffer.alloc(3 << 20, 0x61), Buffer.from('\n{"after":1}\n')]));
    expect(r.lines).toEqual(['{"after":1}']);
    expect(r.reader.oversize).toBe(1);
    expect(r.peak()).toBe(0);
  });

  // Guards against: memory held growing past the bound when a line creeps up
  // to it in tiny reads.
  it('pending never exceeds max_line_bytes while a line grows one byte at a time past it', () => {
    const r = recorder(1000);
    for (let i = 0; i < 3000; i++) r.push('z');
    expect(r.peak()).toBe(1000);
    expect(r.reader.pending).toBe(0);
    expect(r.reader.oversize).toBe(1);
    r.push('\nnext\n');
    expect(r.lines).toEqual(['next']);
  });

  // Guards against: the bound being on bytes while memory goes per read. A
  // guest that paces its writes gets one read per byte; held as one Buffer
  // object per read, a 1 MiB line costs over 100 MiB of heap (64 MiB lines:
  // gigabytes), in a root process. What is held must cost about its bytes.
  it('a line dribbled in 1-byte reads up to max_line_bytes (1 MiB) costs about its bytes, not an object per read', () => {
    const max = 1 << 20;
    const reader = new BoundedLineReader(max, () => {});
    const one = Buffer.from('a');
    const used = () => {
      const m = process.memoryUsage();
      return m.heapUsed + m.arrayBuffers;
    };
    const before = used();
    for (let i = 0; i < max; i++) reader.push(one);
    const grown = used() - before;
    expect(reader.pending).toBe(max);
    // 1 MiB of bytes; even doubling growth and some slack stays far below 16 MiB.
    expect(grown, `${(grown / (1 << 20)).toFixed(1)} MiB held for a 1 MiB line`).toBeLessThan(16 << 20);
    const lines: number[] = [];
    const r2 = new BoundedLineReader(max, (l) => lines.push(l.length));
    for (let i = 0; i < 1000; i++) r2.push(one);
    r2.push(Buffer.from('\n'));
    expect(lines).toEqual([1000]);
  });

  // Guards against: CRLF line ends being split wrongly when the \r and the \n
  // arrive in different reads, or \r alone being taken as a line end.
  it('CRLF: the \\r stays with its line (for judgeLine to strip) even when \\r and \\n arrive in different reads; a lone \\r ends nothing', () => {
    const r = recorder(64);
    r.push('{"a":1}\r');
    expect(r.lines).toEqual([]);
    r.push('\n{"b":2}\r\n{"c":\r3}\r');
    r.push('\n');
    expect(r.lines).toEqual(['{"a":1}\r', '{"b":2}\r', '{"c":\r3}\r']);
    expect(r.reader.oversize).toBe(0);
  });

  // Guards against: the unfinished line of a closed connection being glued to
  // the first line of the next one (a line the guest never sent), and a drop
  // in progress swallowing the next connection's first line.
  it('end() drops an unfinished line, and ends a drop in progress', () => {
    const r = recorder(10);
    r.push('{"half":');
    r.reader.end();
    expect(r.reader.pending).toBe(0);
    r.push('1}\n');
    expect(r.lines).toEqual(['1}']); // not '{"half":1}'

    r.push('x'.repeat(20)); // oversize, no newline: dropping
    expect(r.reader.oversize).toBe(1);
    r.reader.end();
    r.push('first\n');
    expect(r.lines).toEqual(['1}', 'first']);
    expect(r.reader.oversize).toBe(1);
  });
});
