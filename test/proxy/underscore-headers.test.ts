/** Header spoofing by spelling: underscore forms of edgeway's headers never reach a real upstream. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { request } from 'undici';
import { startGateway, serviceYaml, type TestGateway } from '../helpers/gateway.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

describe('underscore headers through the gateway', () => {
  let upstream: Upstream;
  let gw: TestGateway;

  before(async () => {
    upstream = await startUpstream();
    gw = await startGateway({
      'c.yaml': `${serviceYaml('svc', [upstream.url])}routes:\n  - { name: all, match: { path: / }, service: svc }\n`,
    });
  });

  after(async () => {
    await gw.stop();
    await upstream.close();
  });

  test('an anonymous caller cannot become root through X_Edgeway_Sub (HTTP_X_EDGEWAY_SUB in CGI)', async () => {
    const res = await request(`${gw.url}/whoami`, {
      headers: {
        X_Edgeway_Sub: 'root',
        'X-Edgeway_Scopes': 'admin',
        X_Forwarded_For: '10.0.0.1',
        X_Request_Id: 'spoof',
        X_Custom_Thing: 'kept',
      },
    });
    await res.body.dump();
    assert.equal(res.statusCode, 200);
    const raw = upstream.seen.at(-1)?.rawHeaders ?? [];
    const names = raw.filter((_, i) => i % 2 === 0).map((name) => name.toLowerCase());
    const cgi = (name: string) => `HTTP_${name.toUpperCase().replaceAll('-', '_')}`;
    for (const spoofed of ['HTTP_X_EDGEWAY_SUB', 'HTTP_X_EDGEWAY_SCOPES'])
      assert.ok(!names.some((name) => cgi(name) === spoofed), `${spoofed} reached the upstream`);
    assert.deepEqual(
      names.filter((name) => cgi(name) === 'HTTP_X_FORWARDED_FOR'),
      ['x-forwarded-for'],
      "only the gateway's own x-forwarded-for",
    );
    assert.deepEqual(
      names.filter((name) => cgi(name) === 'HTTP_X_REQUEST_ID'),
      ['x-request-id'],
    );
    assert.notEqual(upstream.seen.at(-1)?.headers['x-request-id'], 'spoof');
    assert.equal(
      upstream.seen.at(-1)?.headers['x_custom_thing'],
      'kept',
      'other underscore headers pass as sent',
    );
  });

  // X_Forwarded_Port was dropped while X-Forwarded-Port passed, though a CGI stack reads both as
  // HTTP_X_FORWARDED_PORT; and Go's chi RealIP, Echo and nginx realip take X-Real-IP as the client address.
  test("an untrusted client's other forwarding headers (X-Forwarded-Port, -Prefix, X-Real-IP) never reach the upstream", async () => {
    const res = await request(`${gw.url}/whoami`, {
      headers: {
        'X-Forwarded-Port': '1',
        'X-Forwarded-Prefix': '/admin',
        'X-Forwarded-Server': 'evil',
        'X-Real-IP': '10.9.9.9',
        'True-Client-IP': '10.9.9.8',
      },
    });
    await res.body.dump();
    assert.equal(res.statusCode, 200);
    const seen = upstream.seen.at(-1)?.headers ?? {};
    for (const name of [
      'x-forwarded-port',
      'x-forwarded-prefix',
      'x-forwarded-server',
      'x-real-ip',
      'true-client-ip',
    ])
      assert.equal(seen[name], undefined, `${name} reached the upstream`);
  });
});
