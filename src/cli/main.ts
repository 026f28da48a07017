// The labtel command line. The plain form of `labtel bucketize` (one or more
// captures, plain flags) runs without loading commander and the CLI's
// definitions, and with one capture its pipeline starts first, before the
// rest of the command loads (bucketize-early.ts); everything else goes
// through program.ts.
import { plainBucketizeArgv } from './commands/bucketize-argv.js';

const plain = plainBucketizeArgv(process.argv.slice(2));
if (plain) {
  let started: import('../collectors/netflow/offline/bucketize-native.js').StartedFile | null = null;
  try {
    started = (await import('./commands/bucketize-early.js')).startPlainBucketize(plain.captures, plain.flags);
  } catch {
    // Whatever went wrong there, the command below runs as it would have and says it.
  }
  try {
    process.exitCode = await (await import('./commands/bucketize.js')).bucketizeCommand(plain.captures, plain.flags, started);
  } catch (err) {
    // As program.ts says it: scrubbed (an fs error may quote a path holding a secret).
    console.error(`labtel: ${(await import('../util/scrub-secrets.js')).scrubbedMessage(err)}`);
    process.exitCode = 2;
  } finally {
    // Not drained (the command refused, or failed before it): stop its threads.
    if (started) (await import('../collectors/netflow/offline/bucketize-native.js')).abandonStarted(started);
  }
} else {
  await (await import('./program.js')).runProgram();
}
