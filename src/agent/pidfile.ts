// Moved to src/util/pidfile.ts, where the collectors that follow a pidfile
// (proc, perf) may import it; kept until agent/target.ts and the proc hostile
// test import it from there.
export { readPidfile, type PidfileReading } from '../util/pidfile.js';
