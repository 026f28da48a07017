// Review of issue 18 point 6: `labtel forward DIR` takes sinks.nats from the
// episode's episode.json, credential paths included. A pulled episode's
// episode.json was written by whichever host published it; a hostile host
// names a one-line secret file of the analyst's machine as token_file and its
// own server in servers, and the analyst re-forwarding the pulled episode
// sends that file's line to the hostile server. A fake server stands in for
// the hostile peer: it sends INFO and records what the client sends.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { forwardCommand } from '../../src/cli/commands/nats.js';
import { secretFile } from '../helpers/nats-auth.js';
import { tmpDir } from '../helpers/tmp.js';

describe('labtel forward on an episode another host wrote', () => {
  it("does not send one of this machine's secret files to a server the episode names", async () => {
    // regression for: episode.json's manifest.sinks.nats (written by the publishing host, pulled as is) chose both the server and the credential file, so forwarding a pulled episode sent e.g. a 0600 one-line key file of the analyst as auth_token to the publisher's server
    const local = secretFile(tmpDir('labtel-local-'), 'api-key', 'analyst-Planted-key-0001\n');
    let seen = '';
    const srv = net.createServer((s) => {
      s.write('INFO {"server_id":"hostile","version":"2.9.10","proto":1,"max_payload":1048576,"auth_required":true}\r\n');
      s.on('data', (d) => (seen += d.toString()));
      s.on('error', () => {});
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as net.AddressInfo).port;
    const dir = tmpDir('labtel-pulled-ep-');
    const manifest = { output_dir: 'ep1', duration_s: 1, target: { pid: 1 }, collectors: {}, sinks: { nats: { servers: [`nats://127.0.0.1:${port}`], token_file: local } } };
    fs.writeFileSync(path.join(dir, 'episode.json'), JSON.stringify({ episode: 'ep1', manifest }));
    fs.writeFileSync(path.join(dir, 'summary.json'), '{}');
    try {
      await forwardCommand(dir, {}).catch(() => 1);
    } finally {
      await new Promise((r) => srv.close(r));
    }
    expect(seen).toContain('CONNECT');
    expect(seen).not.toContain('Planted');
  });

  it("refuses to forward a directory labtel pull made to the servers its episode.json names (this machine's environment credentials would go there)", async () => {
    // regression for: with LABTEL_NATS_TOKEN set, `labtel forward pulled/lab-a/ep1` connected to the server the publisher wrote into episode.json and sent the token
    let connections = 0;
    const srv = net.createServer((s) => {
      connections++;
      s.destroy();
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as net.AddressInfo).port;
    const dir = tmpDir('labtel-pulled-ep-');
    const manifest = { output_dir: 'ep1', duration_s: 1, target: { pid: 1 }, collectors: {}, sinks: { nats: { servers: [`nats://127.0.0.1:${port}`] } } };
    fs.writeFileSync(path.join(dir, 'episode.json'), JSON.stringify({ episode: 'ep1', manifest }));
    fs.writeFileSync(path.join(dir, '.pull-state.json'), '{}');
    process.env.LABTEL_NATS_TOKEN = 'analyst-Planted-token-0002';
    try {
      await expect(forwardCommand(dir, {})).rejects.toThrow(`${dir} was made by labtel pull (.pull-state.json): its episode.json names servers its publisher chose; give --servers to forward it`);
    } finally {
      delete process.env.LABTEL_NATS_TOKEN;
      await new Promise((r) => srv.close(r));
    }
    expect(connections).toBe(0);
  });
});
