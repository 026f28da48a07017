// The labtel command line. The plain form of `labtel bucketize` (one or more
// captures, plain flags) runs without loading commander and the CLI's
// definitions; everything else goes through program.ts.
import { plainBucketizeArgv } from './commands/bucketize-argv.js';

const plain = plainBucketizeArgv(process.argv.slice(2));
if (plain) {
  try {
    process.exitCode = await (await import('./commands/bucketize.js')).bucketizeCommand(plain.captures, plain.flags);
  } catch (err) {
    // As program.ts says it: scrubbed (an fs error may quote a path holding a secret).
    console.error(`labtel: ${(await import('../util/scrub-secrets.js')).scrubbedMessage(err)}`);
    process.exitCode = 2;
  }
} else {
  await (await import('./program.js')).runProgram();
}
