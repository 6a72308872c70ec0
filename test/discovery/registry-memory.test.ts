/** The registry contract on the embedded memory registry, plus its clock-driven sweep. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryRegistry } from '../../src/discovery/memory-registry.js';
import { instance, registryContract } from './registry.contract.js';

describe('MemoryRegistry', () => {
  registryContract(async () => {
    const registry = new MemoryRegistry();
    await registry.start();
    return { registry, dispose: () => registry.close() };
  });

  test('the sweep removes exactly the instances whose expiry has passed, by the injected clock', async () => {
    let now = 1_000_000;
    const registry = new MemoryRegistry({ now: () => now });
    await registry.register(instance({ id: 'short' }), 100);
    await registry.register(instance({ id: 'long' }), 200);
    assert.equal(registry.list('orders')[0]?.expiresAt, 1_000_200);
    now += 99;
    registry.sweep();
    assert.deepEqual(
      registry.list('orders').map((rec) => rec.id),
      ['long', 'short'],
    );
    now += 1;
    registry.sweep();
    assert.deepEqual(
      registry.list('orders').map((rec) => rec.id),
      ['long'],
    );
    now += 100;
    registry.sweep();
    assert.deepEqual(registry.services(), []);
  });

  test('status says memory, always connected and fresh', () => {
    const status = new MemoryRegistry({ now: () => 42 }).status();
    assert.deepEqual(status, { backend: 'memory', connected: true, lastSyncAt: 42, stale: false });
  });
});
