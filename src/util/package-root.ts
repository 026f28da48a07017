// The package root, for files that ship beside the code (package.json, bin/,
// the built addon, the test guest's scripts).
import { fileURLToPath } from 'node:url';
import path from 'node:path';

/** src/util/ and dist/util/ both sit two levels below it. */
export const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
