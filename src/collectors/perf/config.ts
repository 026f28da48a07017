import { z } from 'zod';
import { collectorCommon, nonEmptyString, positiveInt } from '../../schema/common.js';

import { DEFAULT_PERF_EVENTS } from './default-events.js';

export { DEFAULT_PERF_EVENTS };

export const perfConfig = z
  .strictObject({
    ...collectorCommon,
    interval_ms: positiveInt().default(200).describe('perf stat interval (-I), ms.'),
    events: z
      .array(nonEmptyString('an event name'), { error: 'expected a list of perf event names' })
      .min(1, { error: 'expected at least one event' })
      .default([...DEFAULT_PERF_EVENTS])
      .describe('perf events to count; hardware events this host cannot count give null.'),
  })
  .describe('perf stat counters of the target process.');
