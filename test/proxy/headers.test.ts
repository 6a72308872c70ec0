/** Header hygiene: what the upstream receives of the client's headers, and what the client receives of the upstream's. */
import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import { describe, test } from 'node:test';
import {
  clientResponseHeaders,
  upstreamRequestHeaders,
  type ForwardedFacts,
} from '../../src/proxy/headers.js';

const facts: ForwardedFacts = {
  clientIp: '203.0.113.7',
  forwardedFor: '203.0.113.7',
  proto: 'https',
  host: 'api.example.com',
  requestId: 'req-1',
};
const OWN = [
  'x-forwarded-for',
  facts.forwardedFor,
  'x-forwarded-proto',
  facts.proto,
  'x-forwarded-host',
  facts.host,
  'x-request-id',
  facts.requestId,
];

/** The client's headers that survive, as [name, value] pairs (the gateway's own appended ones left out). */
function kept(raw: string[], extra: Array<[string, string]> = []): string[][] {
  const out = upstreamRequestHeaders(raw, connectionOf(raw), facts, extra);
  const pairs: string[][] = [];
  for (let i = 0; i < out.length - OWN.length - extra.length * 2; i += 2)
    pairs.push([out[i]!, out[i + 1]!]);
  return pairs;
}

/** Node joins repeated Connection headers into one list; a test passes the raw ones the same way. */
function connectionOf(raw: string[]): string | undefined {
  const values = raw.filter((_, i) => i % 2 === 1 && raw[i - 1]!.toLowerCase() === 'connection');
  return values.length === 0 ? undefined : values.join(', ');
}

describe('upstreamRequestHeaders', () => {
  const cases: Array<[string, string[], string[][]]> = [
    [
      'end-to-end headers pass with their spelling, order and repeats',
      ['Accept', 'a/b', 'X-Thing', '1', 'x-thing', '2'],
      [
        ['Accept', 'a/b'],
        ['X-Thing', '1'],
        ['x-thing', '2'],
      ],
    ],
    [
      'RFC 9110 7.6.1 hop-by-hop headers are removed',
      [
        'Connection',
        'keep-alive',
        'Keep-Alive',
        'timeout=5',
        'Proxy-Connection',
        'x',
        'Transfer-Encoding',
        'chunked',
        'TE',
        'trailers',
        'Trailer',
        'x',
        'Upgrade',
        'h2c',
        'Proxy-Authorization',
        'Basic x',
        'HTTP2-Settings',
        'x',
        'Expect',
        '100-continue',
        'Host',
        'api.example.com',
        'Accept',
        '*/*',
      ],
      [['Accept', '*/*']],
    ],
    [
      'headers named in Connection are removed, whatever their case',
      ['Connection', 'X-Secret, close', 'x-secret', '1', 'X-Other', '2'],
      [['X-Other', '2']],
    ],
    [
      'every Connection header counts',
      ['Connection', 'x-a', 'Connection', 'X-B', 'X-A', '1', 'x-b', '2', 'x-c', '3'],
      [['x-c', '3']],
    ],
    [
      'client-sent x-edgeway-* are removed, whatever their case',
      ['X-Edgeway-Sub', 'root', 'x-edgeway-scopes', 'admin', 'X-EDGEWAY-TENANT', 't'],
      [],
    ],
    [
      'underscore spellings of names edgeway owns are removed (CGI reads them as the dashed name)',
      [
        'X_Edgeway_Sub',
        'root',
        'x-edgeway_scopes',
        'admin',
        'X_Forwarded_For',
        '10.0.0.1',
        'x_forwarded_prefix',
        '/x',
        'X_Request_Id',
        'r',
        'Transfer_Encoding',
        'chunked',
        'Proxy_Authorization',
        'x',
      ],
      [],
    ],
    [
      'other underscore headers pass as sent',
      ['X_Custom_Thing', '1', 'api_key', 'k'],
      [
        ['X_Custom_Thing', '1'],
        ['api_key', 'k'],
      ],
    ],
    [
      "forwarding headers and the request id from the client are replaced by the gateway's",
      [
        'X-Forwarded-For',
        '10.9.9.9',
        'X-Forwarded-Proto',
        'http',
        'X-Forwarded-Host',
        'evil',
        'Forwarded',
        'for=1.2.3.4',
        'X-Request-Id',
        'spoof',
      ],
      [],
    ],
    [
      'trace context is re-sent per attempt, never passed through',
      ['traceparent', '00-aa-bb-01', 'tracestate', 'x=1'],
      [],
    ],
  ];
  for (const [name, raw, expected] of cases)
    test(name, () => assert.deepEqual(kept(raw), expected));

  test("the gateway's forwarding headers and request id follow the client's, then the stages' extras", () => {
    const out = upstreamRequestHeaders(['Accept', '*/*'], undefined, facts, [
      ['x-edgeway-sub', 'alice'],
    ]);
    assert.deepEqual(out, ['Accept', '*/*', ...OWN, 'x-edgeway-sub', 'alice']);
  });

  test("a client copy is dropped while the stage's own x-edgeway-sub goes through", () => {
    const out = upstreamRequestHeaders(
      ['X-Edgeway-Sub', 'root', 'X_Edgeway_Sub', 'root'],
      undefined,
      facts,
      [['x-edgeway-sub', 'alice']],
    );
    const subs = out.filter(
      (_, i) => i % 2 === 1 && out[i - 1]!.toLowerCase().replaceAll('_', '-') === 'x-edgeway-sub',
    );
    assert.deepEqual(subs, ['alice']);
  });
});

describe('clientResponseHeaders', () => {
  const cases: Array<[string, IncomingHttpHeaders, string[]]> = [
    [
      'end-to-end headers pass, repeated ones as repeats',
      { 'content-type': 'text/plain', 'set-cookie': ['a=1', 'b=2'] },
      ['content-type', 'text/plain', 'set-cookie', 'a=1', 'set-cookie', 'b=2'],
    ],
    [
      'hop-by-hop headers are removed',
      {
        connection: 'keep-alive',
        'keep-alive': 'timeout=5',
        'proxy-connection': 'x',
        'transfer-encoding': 'chunked',
        te: 'x',
        trailer: 'x',
        upgrade: 'x',
        'proxy-authenticate': 'Basic',
        etag: '"1"',
      },
      ['etag', '"1"'],
    ],
    [
      'headers named in Connection are removed',
      { connection: 'X-Internal', 'x-internal': 'debug', etag: '"1"' },
      ['etag', '"1"'],
    ],
    [
      "the upstream's x-request-id gives way to the gateway's",
      { 'x-request-id': 'upstream-id' },
      [],
    ],
  ];
  for (const [name, upstream, expected] of cases) {
    test(name, () =>
      assert.deepEqual(clientResponseHeaders(upstream, 'req-1', [['ratelimit-limit', '10']]), [
        ...expected,
        'x-request-id',
        'req-1',
        'ratelimit-limit',
        '10',
      ]),
    );
  }
});
