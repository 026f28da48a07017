// Whether QEMU's QMP socket answers: it is a socket, QEMU greets on it, and
// which of the queries the collector polls it knows (query-commands).
import fs from 'node:fs';
import { QmpClient } from '../../qmp/client.js';

export const POLLED = ['query-status', 'query-blockstats', 'query-cpus-fast', 'query-stats', 'query-balloon'] as const;

export interface QmpPreflight {
  error: string | null;
  qemu: string | null;
  /** Polled queries this QEMU lacks. */
  missing: string[];
}

export async function qmpPreflight(socket: string, greetingTimeoutMs = 5000): Promise<QmpPreflight> {
  let st: fs.Stats;
  try {
    st = fs.statSync(socket);
  } catch (err) {
    return { error: `QMP socket ${socket}: ${(err as NodeJS.ErrnoException).code}`, qemu: null, missing: [] };
  }
  if (!st.isSocket()) return { error: `QMP socket ${socket} is not a socket`, qemu: null, missing: [] };
  let c: QmpClient;
  try {
    c = await QmpClient.connect({ path: socket, greetingTimeoutMs });
  } catch (err) {
    return { error: (err as Error).message, qemu: null, missing: [] };
  }
  try {
    const cmds = await c.execute<Array<{ name?: unknown }>>('query-commands');
    const have = new Set((Array.isArray(cmds) ? cmds : []).map((x) => x?.name));
    return { error: null, qemu: c.version, missing: POLLED.filter((q) => !have.has(q)) };
  } catch (err) {
    return { error: `QMP socket ${socket}: query-commands: ${(err as Error).message}`, qemu: c.version, missing: [] };
  } finally {
    c.close();
  }
}
