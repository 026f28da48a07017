import { z } from 'zod';
import { expected, nonEmptyString, safeName } from '../../schema/common.js';


export const natsSinkConfig = z
  .strictObject({
    servers: z
      .array(nonEmptyString('a NATS server URL'), { error: expected('a list of NATS server URLs') })
      .min(1, { error: expected('at least one NATS server URL') })
      .describe('NATS servers, e.g. ["nats://10.0.0.5:4222"]; the client fails over between them.'),
    stream: nonEmptyString('a JetStream stream name').default('LABTEL').describe('The JetStream stream (created if absent, for subjects <subject_prefix>.>).'),
    subject_prefix: z
      .string({ error: expected('a subject prefix') })
      .regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/, { error: expected('a subject prefix of tokens A-Z a-z 0-9 _ - joined by dots') })
      .default('labtel')
      .describe('Rows go to <subject_prefix>.<host>.<episode>.<source>.'),
    replicas: z
      .number({ error: expected('1 to 5 replicas') })
      .int({ error: expected('1 to 5 replicas') })
      .min(1, { error: expected('1 to 5 replicas') })
      .max(5, { error: expected('1 to 5 replicas') })
      .default(1)
      .describe('Replicas of the stream when labtel creates it (a JetStream cluster keeps the rows when a server dies).'),
    host: safeName('a host name').optional().describe("This lab host's name in subjects and message ids (default: the host name). Names map to subject tokens one to one: a character outside A-Z a-z 0-9 _ - is written %XX."),
  })
  .describe('Forward rows to NATS JetStream as they are written; the JSONL files stay the source of truth.');

export const sinksConfig = z
  .strictObject({ nats: natsSinkConfig.optional() }, { error: expected('an object of sinks') })
  .describe('Where rows are forwarded besides the episode directory.');
export type NatsSinkConfig = z.output<typeof natsSinkConfig>;
