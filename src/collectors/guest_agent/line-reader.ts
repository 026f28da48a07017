// The bounded line reader now lives in src/util/ (verify and the report read
// row files with it too); this path stays until its importers move there.
export { BoundedLineReader } from '../../util/bounded-line-reader.js';
