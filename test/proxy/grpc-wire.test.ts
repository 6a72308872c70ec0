/** gRPC wire details edgeway writes and reads: grpc-message encoding, grpc-timeout, the status mapping. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  encodeGrpcMessage,
  GatewayError,
  renderGrpcError,
  type ErrorCode,
} from '../../src/errors.js';
import { grpcTimeoutMs } from '../../src/proxy/grpc-timeout.js';

test('grpc-message is percent-encoded UTF-8 with printable ASCII other than % kept', () => {
  assert.equal(encodeGrpcMessage('no route matches'), 'no route matches');
  assert.equal(encodeGrpcMessage('100% sure'), '100%25 sure');
  assert.equal(encodeGrpcMessage('line\nbreak'), 'line%0Abreak');
  assert.equal(encodeGrpcMessage('café'), 'caf%C3%A9');
});

test('grpc-timeout: each unit in milliseconds; absent or malformed means no bound', () => {
  const cases: Array<[string | undefined, number]> = [
    ['1H', 3_600_000],
    ['2M', 120_000],
    ['3S', 3000],
    ['250m', 250],
    ['1500u', 2],
    ['1n', 1],
    [undefined, Infinity],
    ['', Infinity],
    ['10', Infinity],
    ['123456789S', Infinity],
    ['-1S', Infinity],
    ['1s', Infinity],
  ];
  for (const [value, ms] of cases) assert.equal(grpcTimeoutMs(value), ms, String(value));
});

test('SPEC status mapping: every refusal is HTTP 200 with its gRPC status; www-authenticate stays', () => {
  const cases: Array<[ErrorCode, string]> = [
    ['unauthorized', '16'],
    ['forbidden', '7'],
    ['not_found', '12'],
    ['rate_limited', '8'],
    ['payload_too_large', '8'],
    ['bad_gateway', '14'],
    ['unavailable', '14'],
    ['gateway_timeout', '4'],
    ['bad_request', '13'],
    ['internal_error', '13'],
    ['headers_too_large', '13'],
  ];
  for (const [code, status] of cases) {
    const rendered = renderGrpcError(new GatewayError(code, 'refused'), 'req-1');
    assert.equal(rendered.status, 200, code);
    assert.equal(rendered.body, '');
    assert.deepEqual(
      rendered.headers.find(([name]) => name === 'grpc-status'),
      ['grpc-status', status],
      code,
    );
    assert.deepEqual(
      rendered.headers.find(([name]) => name === 'content-type'),
      ['content-type', 'application/grpc'],
    );
  }
  const unauthorized = renderGrpcError(
    new GatewayError('unauthorized', 'no token', [['www-authenticate', 'Bearer realm="edgeway"']]),
    'req-2',
  );
  assert.deepEqual(
    unauthorized.headers.find(([name]) => name === 'www-authenticate'),
    ['www-authenticate', 'Bearer realm="edgeway"'],
  );
});
