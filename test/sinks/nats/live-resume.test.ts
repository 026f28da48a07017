import { describe, expect, it } from 'vitest';
import { natsSinkConfig } from '../../../src/sinks/nats/config.js';
import { resumeCommand } from '../../../src/sinks/nats/live.js';

describe("summary.json's forwarding.nats.resume", () => {
  // Regression for: resume was `labtel forward DIR` whatever the manifest named, and labtel forward takes credentials
  // only from its flags or the environment: on a server with per-host users the printed command was refused.
  it('carries the credential paths and inbox prefix the manifest named, as flags', () => {
    const cfg = natsSinkConfig.parse({ servers: ['nats://127.0.0.1:4222'], host: 'lab-a', nkey_seed_file: '/etc/labtel/lab-a.nk', inbox_prefix: '_INBOX_lab-a' });
    expect(resumeCommand('/srv/ep1', cfg)).toBe('labtel forward /srv/ep1 --nkey-seed-file /etc/labtel/lab-a.nk --inbox-prefix _INBOX_lab-a');
    const user = natsSinkConfig.parse({ servers: ['nats://127.0.0.1:4222'], user: 'lab a', password_file: "/etc/labtel/it's" });
    expect(resumeCommand('/srv/my ep', user)).toBe(`labtel forward '/srv/my ep' --user 'lab a' --password-file '/etc/labtel/it'\\''s'`);
  });

  it('is the bare command without credentials', () => {
    expect(resumeCommand('/srv/ep1', natsSinkConfig.parse({ servers: ['nats://127.0.0.1:4222'] }))).toBe('labtel forward /srv/ep1');
  });
});
