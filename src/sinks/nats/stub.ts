// What goes on the wire in place of something larger than a NATS message may
// carry: a row keeps its envelope (source, t_mono_ns, seq) and says why and
// where the whole row is; episode.json or summary.json becomes {"stub": why}.

export function rowTooLarge(rowBytes: number, limit: number, file: string, host: string): string {
  return `not forwarded: the row is ${rowBytes} bytes, over the ${limit} bytes a message may carry on this NATS server; it is in ${file} on host ${host}`;
}

/** The stub line (newline included) standing for a row: the envelope as the row wrote it, then why. */
export function stubLine(source: string, tMonoNs: string, seq: number, why: string): Buffer {
  return Buffer.from(`{"source":${JSON.stringify(source)},"t_mono_ns":${tMonoNs},"seq":${seq},"stub":${JSON.stringify(why)}}\n`, 'utf8');
}

/** The JSON object sent in place of an episode file too large for one message. */
export function fileStub(file: string, bytes: number, limit: number, host: string): Buffer {
  const why = `not forwarded: ${file} is ${bytes} bytes, over the ${limit} bytes a message may carry on this NATS server; it is in the episode directory on host ${host}`;
  return Buffer.from(JSON.stringify({ stub: why }), 'utf8');
}
