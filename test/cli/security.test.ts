/** `edgeway token`, `keys` and `clients` as child processes, sharing the data dir with an embedded-mode gateway. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { request } from 'undici';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { startGateway, serviceYaml, type TestGateway } from '../helpers/gateway.js';

const run = promisify(execFile);

describe('security CLI in embedded mode', () => {
  let upstream: Upstream;
  let gw: TestGateway;
  let env: NodeJS.ProcessEnv;

  /** Runs `edgeway ...` against the gateway's config and data dir, with no Redis. */
  const cli = async (args: string[]): Promise<{ code: number; stdout: string; stderr: string }> => {
    try {
      const { stdout, stderr } = await run(process.execPath, ['bin/edgeway.js', ...args], {
        env,
        timeout: 60_000,
      });
      return { code: 0, stdout, stderr };
    } catch (err) {
      const failed = err as { code: number; stdout: string; stderr: string };
      return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
    }
  };

  const jwks = async (): Promise<JSONWebKeySet> =>
    (await (await request(`${gw.url}/.well-known/jwks.json`)).body.json()) as JSONWebKeySet;

  const callRoute = async (token: string): Promise<number> => {
    const res = await request(`${gw.url}/orders`, {
      headers: { authorization: `Bearer ${token}` },
    });
    await res.body.dump();
    return res.statusCode;
  };

  before(async () => {
    upstream = await startUpstream();
    gw = await startGateway({
      'c.yaml': `auth:\n  issuers:\n    - { issuer: edgeway, audience: api }\n${serviceYaml('svc', [upstream.url])}routes:\n  - { name: orders, match: { path: /orders }, service: svc, auth: { scopes: [orders:read] } }\n`,
    });
    const { REDIS_URL: _redis, EDGEWAY_ADMIN_TOKEN: _token, ...rest } = process.env;
    env = { ...rest, EDGEWAY_CONFIG: gw.configDir, EDGEWAY_DATA_DIR: join(gw.configDir, '.data') };
  });

  after(async () => {
    await gw?.stop();
    await upstream?.close();
  });

  // Every command's --help is checked in help.test.ts; here, what token revoke says about its fallback.
  test('token revoke --help explains the admin API fallback', async () => {
    const { code, stdout } = await cli(['token', 'revoke', '--help']);
    assert.equal(code, 0);
    assert.match(stdout, /admin API/);
    assert.match(stdout, /EDGEWAY_ADMIN_TOKEN/);
    assert.match(stdout, /127\.0\.0\.1:9901/);
  });

  test('token issue prints a JWT that verifies against the gateway JWKS and passes its route', async () => {
    const { code, stdout } = await cli([
      'token',
      'issue',
      '--sub',
      'alice',
      '--scope',
      'orders:read other',
      '--ttl',
      '10m',
    ]);
    assert.equal(code, 0);
    const token = stdout.trim();
    const { payload } = await jwtVerify(token, createLocalJWKSet(await jwks()), {
      issuer: 'edgeway',
      audience: 'api',
    });
    assert.equal(payload.sub, 'alice');
    assert.equal(payload.scope, 'orders:read other');
    assert.ok(
      typeof payload.exp === 'number' && payload.exp - Math.floor(Date.now() / 1000) <= 600,
    );
    assert.equal(await callRoute(token), 200);
  });

  test('token issue refuses bad input with exit 1 or 2 and prints no token', async () => {
    const [tooLong, noSub, noScope] = await Promise.all([
      cli(['token', 'issue', '--sub', 'a', '--scope', 'x', '--ttl', '48h']),
      cli(['token', 'issue', '--scope', 'x']),
      cli(['token', 'issue', '--sub', 'a']),
    ]);
    assert.equal(tooLong.code, 1);
    assert.match(tooLong.stderr, /24h/);
    assert.equal(tooLong.stdout, '');
    assert.equal(noSub.code, 2);
    assert.match(noSub.stderr, /--sub is required/);
    assert.equal(noScope.code, 2);
    assert.match(noScope.stderr, /--scope is required/);
    assert.match(noScope.stderr, /usage: edgeway token issue --sub ID --scope "a b"/);
    assert.equal(noScope.stdout, '');
  });

  test('token issue --scope "" issues a token without scopes', async () => {
    const { code, stdout } = await cli(['token', 'issue', '--sub', 'dave', '--scope', '']);
    assert.equal(code, 0);
    const { payload } = await jwtVerify(stdout.trim(), createLocalJWKSet(await jwks()), {
      issuer: 'edgeway',
      audience: 'api',
    });
    assert.equal(payload.sub, 'dave');
    assert.equal(payload.scope, '');
  });

  test('clients add without --scope exits 2 with the usage and adds nothing', async () => {
    const missing = await cli(['clients', 'add', '--id', 'svc1']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--scope is required/);
    assert.match(missing.stderr, /usage: edgeway clients add --id ID --scope "a b"/);
    assert.equal(missing.stdout, '');
    assert.ok(!(await cli(['clients', 'list'])).stdout.includes('svc1'));
  });

  test('an unreachable Redis is one clean error (password redacted), exit 1', async () => {
    const { code, stderr } = await cli([
      'keys',
      'list',
      '--redis',
      'redis://user:hunter2@127.0.0.1:1',
    ]);
    assert.equal(code, 1);
    assert.match(stderr, /^edgeway: cannot use Redis at redis:\/\/user:\*\*\*@127\.0\.0\.1:1: /);
    assert.ok(!stderr.includes('hunter2'));
    assert.equal(stderr.trim().split('\n').length, 1, stderr);
  });

  test('token revoke without Redis goes through the local gateway admin API', async () => {
    const { stdout } = await cli([
      'token',
      'issue',
      '--sub',
      'bob',
      '--scope',
      'orders:read',
      '--json',
    ]);
    const { token, jti } = JSON.parse(stdout) as { token: string; jti: string };
    assert.equal(await callRoute(token), 200);
    const revoked = await cli(['token', 'revoke', '--jti', jti, '--admin', gw.adminUrl]);
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.equal(await callRoute(token), 401);
    const unreachable = await cli([
      'token',
      'revoke',
      '--jti',
      jti,
      '--admin',
      'http://127.0.0.1:1',
    ]);
    assert.equal(unreachable.code, 1);
    assert.match(unreachable.stderr, /cannot reach/);
  });

  test('clients add prints the secret once; list and the data file never hold it', async () => {
    const added = await cli(['clients', 'add', '--id', 'reporting', '--scope', 'orders:read']);
    assert.equal(added.code, 0);
    const secret = /client_secret: (\S+)/.exec(added.stdout)?.[1];
    assert.ok(secret !== undefined && secret.length >= 32, added.stdout);
    const [listed, json] = await Promise.all([
      cli(['clients', 'list']),
      cli(['clients', 'list', '--json']),
    ]);
    assert.match(listed.stdout, /reporting\s+\S+\s+orders:read/);
    assert.ok(!listed.stdout.includes(secret));
    assert.deepEqual(
      (JSON.parse(json.stdout) as Array<Record<string, unknown>>).map((c) => Object.keys(c).sort()),
      [['createdAt', 'id', 'scopes']],
    );
    assert.ok(
      !readFileSync(join(gw.configDir, '.data', 'clients.json'), 'utf8').includes(secret),
      'the secret is stored in clear',
    );
    const again = await cli(['clients', 'add', '--id', 'reporting', '--scope', 'orders:read']);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already exists/);

    const grant = await request(`${gw.url}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `grant_type=client_credentials&client_id=reporting&client_secret=${encodeURIComponent(secret)}`,
    });
    assert.equal(grant.statusCode, 200, 'the running gateway reads clients.json the CLI wrote');
    assert.equal(
      await callRoute(((await grant.body.json()) as { access_token: string }).access_token),
      200,
    );

    assert.equal((await cli(['clients', 'remove', '--id', 'reporting'])).code, 0);
    assert.doesNotMatch((await cli(['clients', 'list'])).stdout, /reporting/);
    assert.equal((await cli(['clients', 'remove', '--id', 'reporting'])).code, 1);
  });

  test('keys list shows the gateway key; keys rotate adds a current key the gateway serves and accepts', async () => {
    const served = (await jwks()).keys.map((k) => k.kid);
    const listed = await cli(['keys', 'list', '--json']);
    const before = JSON.parse(listed.stdout) as Array<{ kid: string; current: boolean }>;
    assert.deepEqual(before.map((k) => k.kid).sort(), [...served].sort());
    assert.equal(before.filter((k) => k.current).length, 1);
    const old = (
      await cli(['token', 'issue', '--sub', 'carol', '--scope', 'orders:read'])
    ).stdout.trim();

    const rotated = await cli(['keys', 'rotate']);
    assert.equal(rotated.code, 0);
    const kid = /new current key (\S+)/.exec(rotated.stdout)?.[1];
    // Publish first, sign later: the new current key was in the JWKS before the rotation.
    assert.ok(kid !== undefined && served.includes(kid));
    const table = (await cli(['keys', 'list'])).stdout;
    assert.match(table, new RegExp(`${kid}\\s+ES256\\s+\\S+\\s+current`));
    assert.match(table, /\sretiring\s/);
    assert.match(table, /\snext\s*$/m);

    const fresh = (
      await cli(['token', 'issue', '--sub', 'carol', '--scope', 'orders:read'])
    ).stdout.trim();
    assert.equal(decodeProtectedHeader(fresh).kid, kid);
    // The gateway polls keys.json (500 ms); give it a few intervals.
    let status = 0;
    for (let i = 0; i < 40 && status !== 200; i++) {
      status = await callRoute(fresh);
      if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.equal(status, 200, 'a token of the new key');
    assert.equal(await callRoute(old), 200, 'a token of the replaced key');
    assert.ok((await jwks()).keys.some((k) => k.kid === kid));
  });
});
