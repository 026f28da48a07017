import { spawnSync } from 'node:child_process';

/** Whether a program runs here: tests that need one skip only when it is absent (CI installs them all). */
export const has = (cmd: string): boolean => spawnSync(cmd, ['--version'], { stdio: 'ignore' }).status === 0;
