// The collectors this build of labtel runs: one line each. A name in
// KNOWN_COLLECTORS without a line here is accepted by the manifest schema and
// refused at run time as not available yet.
import type { CollectorName } from '../manifest/schema.js';
import type { Collector } from './types.js';
import { proc } from './proc/collector.js';

export const COLLECTORS: { [K in CollectorName]?: Collector<K> } = {
  proc,
};

export const NOT_YET = 'not implemented in this version of labtel';
