import { test } from 'node:test';
import assert from 'node:assert/strict';
import { configSchema } from '../../src/config/schema.js';
import type { CompiledRoute } from '../../src/request/route.js';
import { compileMatch, RouteTable, upstreamPath } from '../../src/pipeline/route-table.js';

function table(routes: unknown[]): RouteTable<CompiledRoute> {
  const config = configSchema.parse({
    services: { s: { instances: ['http://127.0.0.1:1'] } },
    routes,
  });
  return new RouteTable(
    config.routes.map((route, index) => ({
      name: route.name,
      index,
      config: route,
      match: compileMatch(route),
    })),
  );
}

const find = (
  t: RouteTable<CompiledRoute>,
  path: string,
  extra: Partial<{ host: string; method: string; headers: Record<string, string> }> = {},
) =>
  t.find({
    host: extra.host ?? 'api.example.com',
    path,
    method: extra.method ?? 'GET',
    headers: extra.headers ?? {},
  })?.name;

test('the longest whole-segment prefix wins, never a partial segment', () => {
  const t = table([
    { name: 'root', match: { path: '/' }, service: 's' },
    { name: 'orders', match: { path: '/orders' }, service: 's' },
    { name: 'order-items', match: { path: '/orders/items/' }, service: 's' },
  ]);
  assert.equal(find(t, '/orders'), 'orders');
  assert.equal(find(t, '/orders/'), 'orders');
  assert.equal(find(t, '/orders/7'), 'orders');
  assert.equal(find(t, '/ordersx'), 'root');
  assert.equal(find(t, '/orders/items/3'), 'order-items');
  assert.equal(find(t, '/other'), 'root');
});

test('a tie goes to the route listed first; host, methods and headers narrow the match', () => {
  const t = table([
    { name: 'v2', match: { path: '/orders', headers: { 'x-api-version': '2' } }, service: 's' },
    { name: 'write', match: { path: '/orders', methods: ['POST'] }, service: 's' },
    { name: 'read', match: { path: '/orders', host: 'api.example.com' }, service: 's' },
    { name: 'read-dup', match: { path: '/orders', host: 'api.example.com' }, service: 's' },
    { name: 'wild', match: { path: '/w', host: '*.example.com' }, service: 's' },
  ]);
  assert.equal(find(t, '/orders', { headers: { 'x-api-version': '2' } }), 'v2');
  assert.equal(find(t, '/orders', { method: 'POST' }), 'write');
  assert.equal(find(t, '/orders'), 'read');
  assert.equal(find(t, '/orders', { host: 'other.com' }), undefined);
  assert.equal(find(t, '/w', { host: 'eu.example.com' }), 'wild');
  assert.equal(find(t, '/w', { host: 'example.org' }), undefined);
});

test('stripPrefix removes whole segments only', () => {
  const t = table([{ name: 'o', match: { path: '/orders' }, service: 's', stripPrefix: true }]);
  const route = t.find({
    host: 'h',
    path: '/orders/7',
    method: 'GET',
    headers: {},
  }) as CompiledRoute;
  assert.equal(upstreamPath(route, '/orders/7'), '/7');
  assert.equal(upstreamPath(route, '/orders'), '/');
});
