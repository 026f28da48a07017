import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The installed command, as a user runs it (npm test builds dist/ first). */
export const LABTEL_BIN = path.join(ROOT, 'bin', 'labtel.js');
