/** The one behaviour every Registry implementation must show; run by registry-memory and registry-redis tests. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Registry } from '../../src/discovery/registry.js';
import type { InstanceRegistration } from '../../src/discovery/instance.js';
import { GatewayError } from '../../src/errors.js';
import { InstancePolicy } from '../../src/discovery/instance-policy.js';
import { waitFor } from '../helpers/wait-for.js';

/** A started registry on a clean store, and how to dispose of it. */
export interface RegistryFixture {
  readonly registry: Registry;
  dispose(): Promise<void>;
}

/** A registration with the given overrides. */
export function instance(overrides: Partial<InstanceRegistration> = {}): InstanceRegistration {
  return {
    id: 'a1',
    service: 'orders',
    url: 'http://127.0.0.1:9001',
    weight: 1,
    capacity: 100,
    meta: {},
    draining: false,
    ...overrides,
  };
}

/** Registers the contract tests for one implementation; `make` gives each test a fresh, started registry. */
export function registryContract(make: () => Promise<RegistryFixture>): void {
  const withRegistry = (name: string, body: (registry: Registry) => Promise<void>): void => {
    test(name, async () => {
      const fixture = await make();
      try {
        await body(fixture.registry);
      } finally {
        await fixture.dispose();
      }
    });
  };

  withRegistry(
    'a registered instance is listed with every field and an expiry of now + ttl',
    async (registry) => {
      const before = Date.now();
      await registry.register(
        instance({ weight: 3, capacity: 7, meta: { zone: 'b', az: 'a' } }),
        5000,
      );
      const [rec, ...rest] = registry.list('orders');
      assert.equal(rest.length, 0);
      assert.deepEqual(
        { ...rec, expiresAt: 0 },
        { ...instance({ weight: 3, capacity: 7, meta: { az: 'a', zone: 'b' } }), expiresAt: 0 },
      );
      assert.ok(
        rec !== undefined && Math.abs(rec.expiresAt - (before + 5000)) < 2000,
        `expiresAt ${rec?.expiresAt} is not about now + 5 s`,
      );
      assert.deepEqual(registry.services(), ['orders']);
      assert.deepEqual(registry.list('unknown'), []);
    },
  );

  withRegistry(
    'list() returns the same frozen array until the service changes',
    async (registry) => {
      await registry.register(instance(), 5000);
      const first = registry.list('orders');
      assert.equal(registry.list('orders'), first);
      assert.ok(Object.isFrozen(first) && Object.isFrozen(first[0]));
      await registry.register(instance({ id: 'a2', url: 'http://127.0.0.1:9002' }), 5000);
      const second = registry.list('orders');
      assert.notEqual(second, first);
      assert.deepEqual(
        second.map((rec) => rec.id),
        ['a1', 'a2'],
      );
    },
  );

  withRegistry(
    'heartbeats (re-registering) keep an instance alive past its ttl',
    async (registry) => {
      for (let beat = 0; beat < 6; beat++) {
        await registry.register(instance(), 600);
        await sleep(200);
      }
      assert.equal(registry.list('orders').length, 1);
    },
  );

  withRegistry(
    'an instance that stops heart-beating is removed within 1 s of its ttl',
    async (registry) => {
      const changes: string[] = [];
      registry.onChange((service) => changes.push(service));
      await registry.register(instance(), 300);
      const expiresAt = registry.list('orders')[0]?.expiresAt ?? 0;
      await waitFor(() => registry.list('orders').length === 0, 3000, 'expiry');
      assert.ok(Date.now() - expiresAt < 1000, `removed ${Date.now() - expiresAt} ms after expiry`);
      assert.deepEqual(registry.services(), []);
      assert.deepEqual(changes, ['orders', 'orders']);
    },
  );

  withRegistry('deregister removes an instance and says whether it was there', async (registry) => {
    await registry.register(instance(), 5000);
    await registry.register(instance({ id: 'a2' }), 5000);
    assert.equal(await registry.deregister('orders', 'a1'), true);
    assert.deepEqual(
      registry.list('orders').map((rec) => rec.id),
      ['a2'],
    );
    assert.equal(await registry.deregister('orders', 'a1'), false);
    assert.equal(await registry.deregister('orders', 'a2'), true);
    assert.deepEqual(registry.services(), []);
  });

  withRegistry('the draining flag round-trips and flipping it is a change', async (registry) => {
    const changes: string[] = [];
    registry.onChange((service) => changes.push(service));
    await registry.register(instance({ draining: true }), 5000);
    assert.equal(registry.list('orders')[0]?.draining, true);
    await registry.register(instance({ draining: false }), 5000);
    assert.equal(registry.list('orders')[0]?.draining, false);
    assert.deepEqual(changes, ['orders', 'orders']);
  });

  withRegistry(
    'onChange fires on register, change and deregister, not on a plain heartbeat, and unsubscribes',
    async (registry) => {
      const changes: string[] = [];
      const unsubscribe = registry.onChange((service) => changes.push(service));
      await registry.register(instance(), 5000);
      await registry.register(instance(), 5000);
      await registry.register(instance({ service: 'users' }), 5000);
      await registry.register(instance({ weight: 2 }), 5000);
      await registry.deregister('orders', 'a1');
      await sleep(300);
      assert.deepEqual(changes, ['orders', 'users', 'orders', 'orders']);
      unsubscribe();
      await registry.deregister('users', 'a1');
      await sleep(300);
      assert.equal(changes.length, 4);
    },
  );

  withRegistry('a listener that throws does not stop the others', async (registry) => {
    const heard: string[] = [];
    registry.onChange(() => {
      throw new Error('listener bug');
    });
    registry.onChange((service) => heard.push(service));
    await registry.register(instance(), 5000);
    assert.deepEqual(heard, ['orders']);
  });

  const invalid: Array<[string, InstanceRegistration, number]> = [
    ['a non-http url', instance({ url: 'ftp://127.0.0.1/' }), 5000],
    ['a relative url', instance({ url: '/orders' }), 5000],
    ['a url with credentials', instance({ url: 'http://user:pw@127.0.0.1:9001' }), 5000],
    ['a "/" in the id', instance({ id: 'a/1' }), 5000],
    ['a space in the service', instance({ service: 'or ders' }), 5000],
    ['a zero weight', instance({ weight: 0 }), 5000],
    ['a non-string meta value', instance({ meta: { n: 1 as unknown as string } }), 5000],
    ['a zero ttl', instance(), 0],
    ['a fractional ttl', instance(), 1.5],
  ];
  for (const [what, reg, ttl] of invalid) {
    withRegistry(`register rejects ${what} with bad_request`, async (registry) => {
      await assert.rejects(
        registry.register(reg, ttl),
        (err: unknown) => err instanceof GatewayError && err.code === 'bad_request',
      );
      assert.deepEqual(registry.services(), []);
    });
  }

  withRegistry(
    'restrict() keeps refused instances out of the view, on later registrations too, until a policy admits them',
    async (registry) => {
      const changes: string[] = [];
      registry.onChange((service) => changes.push(service));
      await registry.register(instance({ id: 'own', url: 'http://127.0.0.1:9901' }), 5000);
      await registry.register(instance({ id: 'other', url: 'http://127.0.0.1:9001' }), 5000);
      registry.restrict(new InstancePolicy({ ownPorts: [9901], localAddresses: [] }));
      assert.deepEqual(
        registry.list('orders').map((rec) => rec.id),
        ['other'],
      );
      await registry.register(instance({ id: 'own2', url: 'http://localhost:9901/' }), 5000);
      await registry.register(instance({ id: 'other', url: 'http://127.0.0.1:9001' }), 5000);
      assert.deepEqual(
        registry.list('orders').map((rec) => rec.id),
        ['other'],
      );
      registry.restrict(new InstancePolicy({ ownPorts: [], localAddresses: [] }));
      assert.deepEqual(
        registry.list('orders').map((rec) => rec.id),
        ['other', 'own', 'own2'],
      );
      assert.deepEqual(changes, ['orders', 'orders', 'orders', 'orders']);
    },
  );

  withRegistry('status reports a connected, fresh registry after start', async (registry) => {
    const status = registry.status();
    assert.equal(status.connected, true);
    assert.equal(status.stale, false);
    assert.ok(status.lastSyncAt > 0);
  });
}
