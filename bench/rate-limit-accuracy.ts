/** Bench: how closely two gateways sharing one Redis bucket admit the ideal capacity + rate x time. */
import { Redis } from 'ioredis';
import { startRedis, type TestRedis } from '../test/helpers/redis-server.js';
import { RedisRateLimiter } from '../src/traffic/rate-limit/redis-limiter.js';

// Knobs (environment): REDIS_URL (else a throwaway redis-server), BENCH_CLIENTS, BENCH_SECONDS,
// BENCH_CAPACITY, BENCH_RATE (tokens/s), BENCH_BUDGET_MS (per-decision deadline).
const clients = Number(process.env.BENCH_CLIENTS ?? 200);
const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const policy = { capacity: Number(process.env.BENCH_CAPACITY ?? 100), refillPerSecond: Number(process.env.BENCH_RATE ?? 50) };
const budgetMs = Number(process.env.BENCH_BUDGET_MS ?? 1000);

async function main(): Promise<void> {
  const owned: TestRedis | undefined = process.env.REDIS_URL === undefined ? await startRedis() : undefined;
  const url = process.env.REDIS_URL ?? (owned as TestRedis).url;
  // Two gateways: two connections, as two processes would have, both auto-pipelined.
  const connections = [0, 1].map(() => new Redis(url, { enableAutoPipelining: true, maxRetriesPerRequest: 1 }));
  const limiters = connections.map((redis) => new RedisRateLimiter({ redis, policy, budgetMs }));
  const key = `bench:accuracy:${Date.now()}`;
  let admitted = 0;
  let denied = 0;
  let failed = 0;

  const started = performance.now();
  const end = started + seconds * 1000;
  const client = async (limiter: RedisRateLimiter): Promise<void> => {
    while (performance.now() < end) {
      try {
        if ((await limiter.consume(key)).allowed) admitted += 1;
        else denied += 1;
      } catch {
        failed += 1;
      }
    }
  };
  await Promise.all(Array.from({ length: clients }, (_, i) => client(limiters[i % 2] as RedisRateLimiter)));
  const elapsed = (performance.now() - started) / 1000;

  const ideal = policy.capacity + policy.refillPerSecond * elapsed;
  const error = ((admitted - ideal) / ideal) * 100;
  console.log(`clients ${clients}, gateways 2, ${elapsed.toFixed(2)} s, capacity ${policy.capacity}, ${policy.refillPerSecond}/s`);
  console.log(`decisions ${admitted + denied} (${((admitted + denied) / elapsed).toFixed(0)}/s), store failures ${failed}`);
  console.log(`admitted ${admitted}, ideal ${ideal.toFixed(1)}, error ${error >= 0 ? '+' : ''}${error.toFixed(2)}%`);

  await Promise.all(connections.map((redis) => redis.quit()));
  await owned?.stop();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
