// test-lanes: shared
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { promisify } from 'node:util';
import { COMMANDS, commandHelp } from '../../cli/help.ts';
import { waitFor } from '../helpers/resources.ts';

const run = promisify(execFile);
const brokel = (args: string[], env: Record<string, string> = {}) =>
  run(process.execPath, ['bin/brokel.js', ...args], { timeout: 20_000, env: { ...process.env, ...env } });

/** A plain HTTP server on 127.0.0.1:0 standing in for the manager API; records what it is asked. */
async function fakeManagerApi(t: TestContext, answer: (req: IncomingMessage, body: string) => unknown) {
  const seen: Array<{ method?: string; url?: string; auth?: string; body: string }> = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString();
    });
    req.on('end', () => {
      seen.push({ method: req.method, url: req.url, auth: req.headers.authorization, body });
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer(req, body)));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const dir = await mkdtemp(join(tmpdir(), 'brokel-cli-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const config = join(dir, 'brokel.yaml');
  const { port } = server.address() as { port: number };
  await writeFile(config, `api: { listen: 127.0.0.1:${port} }\n`);
  return { seen, config };
}

const STATUS = {
  deployment: 'watched',
  configError: null,
  thresholds: { brokers: { lower: 0.3, upper: 0.7, min: 1, max: 3 } },
  levels: [{ level: 'broker', load: 0.5, replicas: [], manualTarget: 2 }],
  decisions: [],
};

describe('brokel CLI: help for every command, status --watch, scale, simulate from anywhere', () => {
  it('brokel COMMAND --help and brokel help COMMAND exit 0 with the usage, for every command', async () => {
    const names = Object.keys(COMMANDS);
    for (let i = 0; i < names.length; i += 5) {
      await Promise.all(
        names.slice(i, i + 5).map(async (name) => {
          const { stdout } = await brokel([name, '--help']);
          assert.match(stdout, new RegExp(`usage: brokel ${name}`));
          assert.equal(await commandHelp(name), stdout.trimEnd(), `brokel help ${name} is the same text`);
        }),
      );
    }
    assert.match((await brokel(['help', 'scenario'])).stdout, /usage: brokel scenario run NAME/);
    // Every command cli/main.ts runs has its help (simulate and calibrate once ran without any).
    const main = await readFile(new URL('../../cli/main.ts', import.meta.url), 'utf8');
    const run = [...main.matchAll(/^ {4}case '([a-z-]+)':/gm)].map((m) => m[1]);
    assert.ok(run.length >= 10, `commands found in cli/main.ts: ${run.join(', ')}`);
    for (const name of run) assert.ok(name && names.includes(name), `no help for brokel ${name}`);
    const { stdout } = await brokel(['help']);
    for (const name of names) assert.match(stdout, new RegExp(`\\n  ${name} `));
  });

  it('brokel status --watch redraws until stopped', async (t) => {
    const api = await fakeManagerApi(t, () => STATUS);
    const child = spawn(
      process.execPath,
      ['bin/brokel.js', 'status', '--watch', '--every', '0.2', '-c', api.config],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    t.after(() => {
      if (child.exitCode === null) child.kill('SIGKILL');
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    await waitFor(() => (out.match(/deployment watched/g) ?? []).length >= 3, 15_000, 'three redraws');
    assert.match(out, /manual target 2/);
    assert.ok(api.seen.length >= 3 && api.seen.every((r) => r.url === '/api/status'));
    child.kill('SIGTERM');
  });

  it('brokel scale brokers N | auto posts the target with the admin token', async (t) => {
    const api = await fakeManagerApi(t, (_req, body) => body && JSON.parse(body));
    const env = { BROKEL_ADMIN_TOKEN: 'scale-test-token-0123456789' };
    const { stdout } = await brokel(['scale', 'brokers', '3', '-c', api.config], env);
    assert.match(stdout, /brokers: manual target 3/);
    await brokel(['scale', 'orchestrators', 'auto', '-c', api.config], env);
    assert.deepEqual(
      api.seen.map((r) => [r.method, r.url, r.auth, JSON.parse(r.body)]),
      [
        ['POST', '/api/scale', `Bearer ${env.BROKEL_ADMIN_TOKEN}`, { level: 'brokers', target: 3 }],
        [
          'POST',
          '/api/scale',
          `Bearer ${env.BROKEL_ADMIN_TOKEN}`,
          { level: 'orchestrators', target: 'auto' },
        ],
      ],
    );
    await assert.rejects(brokel(['scale', 'routers', '3', '-c', api.config], env), /usage: brokel scale/);
  });

  it('brokel simulate runs its policies in child processes from any directory, not only the checkout', async (t) => {
    // Its children once took `--import tsx` from their working directory: outside the checkout each died
    // with ERR_MODULE_NOT_FOUND and the command failed.
    const dir = await mkdtemp(join(tmpdir(), 'brokel-cwd-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const { stdout } = await run(
      process.execPath,
      [join(process.cwd(), 'bin/brokel.js'), 'simulate', '--days', '0.05', '--max-brokers', '20', '--json'],
      { cwd: dir, timeout: 60_000 },
    );
    // --json: one object per policy and line.
    const policies = stdout
      .trim()
      .split('\n')
      .map((line) => (JSON.parse(line) as { policy: string }).policy);
    assert.deepEqual(policies, ['reactive', 'proactive', 'hpa']);
  });
});
