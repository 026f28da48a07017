// The lab network of guest-net.ts for vitest: made inside a test, it is
// destroyed after that test; made in beforeAll, after the file. A failing
// test never leaves interfaces or namespaces behind.
import { afterAll, afterEach } from 'vitest';
import { getCurrentTest } from 'vitest/suite';
import { createGuestNet, type GuestNet } from './guest-net.js';

export { canMakeNetns, sendPackets, type Expected, type ExecOpts, type GuestNet } from './guest-net.js';

const live = new Set<GuestNet>();
const perTest: GuestNet[] = [];
afterEach(async () => {
  for (const n of perTest.splice(0)) await n.destroy();
});
afterAll(async () => {
  for (const n of [...live]) await n.destroy();
});

export async function makeGuestNet(): Promise<GuestNet> {
  const net = await createGuestNet();
  const destroy = net.destroy;
  net.destroy = async () => {
    live.delete(net);
    await destroy();
  };
  live.add(net);
  if (getCurrentTest()) perTest.push(net);
  return net;
}
