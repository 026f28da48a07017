// The environment of a worker thread or a program labtel starts: labtel's own
// less the LABTEL_NATS_* credentials, which only the agent's main thread reads
// (to connect to NATS). tcpdump runs as its own capture user, which may read
// its own /proc/<pid>/environ: a tcpdump taken over by a hostile packet must
// not hold them.

const MAIN_THREAD_ONLY = /^LABTEL_NATS_/;

export function childEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([k]) => !MAIN_THREAD_ONLY.test(k)));
}
