/** The response head an HTTP/2 client gets: the upstream's fields, repeated ones kept apart, the route's rules applied. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { h2Connect, h2Request } from '../helpers/h2-client.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

let upstream: Upstream;
let gw: TestGateway;

before(async () => {
  upstream = await startUpstream((_req, res) => {
    res.setHeader('set-cookie', ['a=1; Path=/', 'b=2; Path=/']);
    res.setHeader('X-Upstream-Case', 'kept');
    res.setHeader('server', 'upstream');
    res.setHeader('x-request-id', 'from-upstream');
    res.end('ok');
  });
  gw = await startGateway({
    'gateway.yaml': 'gateway:\n  h2c: true\n',
    'services.yaml': `services:\n  plain: { instances: ["${upstream.url}"] }\nroutes:\n  - name: plain\n    match: { path: / }\n    service: plain\n    responseHeaders: { set: { X-Frame-Options: DENY }, remove: [server] }\n`,
  });
});

after(async () => {
  await gw.stop();
  await upstream.close();
});

test('over h2c, repeated upstream fields arrive as separate fields and the route rules apply', async () => {
  const session = await h2Connect(gw.url);
  try {
    const answer = await h2Request(session, {
      ':method': 'GET',
      ':path': '/x',
      ':authority': 'gateway.test',
    });
    assert.equal(answer.status, 200);
    assert.equal(answer.body, 'ok');
    assert.deepEqual(answer.headers['set-cookie'], ['a=1; Path=/', 'b=2; Path=/']);
    assert.equal(answer.headers['x-upstream-case'], 'kept');
    assert.equal(answer.headers['x-frame-options'], 'DENY');
    assert.equal(answer.headers.server, undefined);
    assert.notEqual(answer.headers['x-request-id'], 'from-upstream');
    assert.match(String(answer.headers['x-request-id']), /^[\w-]+$/);
  } finally {
    session.close();
  }
});
