// What a tcpdump run's end is called in its capture_ended row, in the
// netflow stream's end message and in the restart's error.
import type { TcpdumpExit } from './tcpdump-run.js';

export function describeExit(e: TcpdumpExit, stopping: boolean): string {
  // On SIGTERM tcpdump finishes its loop and exits 0.
  const clean = stopping && (e.signal === 'SIGTERM' || e.how === 'exited with code 0');
  const parts = [clean ? 'stopped' : stopping ? `stopped: tcpdump ${e.how}` : `tcpdump ${e.how}`];
  if (e.said && !clean) parts.push(e.said);
  if (e.cutBytes) parts.push(`its last record was cut short (${e.cutBytes} bytes, not counted)`);
  return parts.join(': ');
}
