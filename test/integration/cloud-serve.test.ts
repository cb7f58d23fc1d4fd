// test-lanes: shared
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';

const BIN = fileURLToPath(new URL('../../bin/brokel.js', import.meta.url));
const TOKEN = 'cli-cloud-token-0123456789';

describe('brokel cloud serve (the CLI process)', () => {
  it('serves the REST API with bearer auth and stops on SIGTERM', async (t) => {
    const child = spawn(
      process.execPath,
      [
        BIN,
        'cloud',
        'serve',
        '--listen',
        '127.0.0.1:0',
        '--token',
        TOKEN,
        '--deployment',
        `cli${process.pid}`,
      ],
      { env: { ...process.env, BROKEL_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    t.after(() => {
      if (child.exitCode === null) child.kill('SIGKILL');
    });
    let out = '';
    child.stdout.setEncoding('utf8');
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no URL printed: ${out}`)), 15_000);
      child.stdout.on('data', (chunk: string) => {
        out += chunk;
        const m = /cloud API on (http:\/\/127\.0\.0\.1:\d+)\/vms/.exec(out);
        if (m?.[1]) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      });
      child.once('exit', (code) => reject(new Error(`exited ${code}: ${out}`)));
    });
    const ok = await request(`${url}/vms?label=brokel.io%2Fdeployment%3Dnone`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    assert.equal(ok.statusCode, 200);
    assert.deepEqual(await ok.body.json(), { vms: [] });
    const refused = await request(`${url}/vms`, { headers: { authorization: 'Bearer nope' } });
    assert.equal(refused.statusCode, 401);
    assert.equal(refused.headers['www-authenticate'], 'Bearer realm="brokel-cloud"');
    assert.deepEqual(await refused.body.json(), { error: 'missing or wrong bearer token' });
    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    assert.equal(code, 0);
  });

  it('refuses a missing or short token with a usage error (exit 2)', async () => {
    const child = spawn(
      process.execPath,
      [BIN, 'cloud', 'serve', '--listen', '127.0.0.1:0', '--token', 'short'],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let err = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (c: string) => {
      err += c;
    });
    const [code] = await once(child, 'exit');
    assert.equal(code, 2);
    assert.match(err, /--token: is required, at least 16 characters/);
  });
});
