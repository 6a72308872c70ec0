/** Bench: two gateways leasing from one Redis bucket: under-admission past the limit, script calls per request under it. */
import { Redis } from 'ioredis';
import { startRedis, type TestRedis } from '../test/helpers/redis-server.js';
import { RedisRateLimiter } from '../src/traffic/rate-limit/redis-limiter.js';
import type { BucketPolicy } from '../src/traffic/rate-limit/token-bucket.js';

// Knobs (environment): REDIS_URL (else a throwaway redis-server), BENCH_CLIENTS, BENCH_SECONDS,
// BENCH_CAPACITY, BENCH_RATE (tokens/s), BENCH_BUDGET_MS (per-call deadline).
const clients = Number(process.env.BENCH_CLIENTS ?? 200);
const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const policy: BucketPolicy = {
  capacity: Number(process.env.BENCH_CAPACITY ?? 100),
  refillPerSecond: Number(process.env.BENCH_RATE ?? 50),
};
const budgetMs = Number(process.env.BENCH_BUDGET_MS ?? 1000);

interface Run {
  admitted: number;
  denied: number;
  failed: number;
  elapsedMs: number;
  scriptCalls: number;
}

/** Script calls sent to Redis (EVALSHA, and EVAL on a script-cache miss). */
async function scriptCalls(probe: Redis): Promise<number> {
  const info = await probe.info('commandstats');
  let calls = 0;
  for (const match of info.matchAll(/^cmdstat_(evalsha|eval):calls=(\d+)/gm))
    calls += Number(match[2]);
  return calls;
}

/** Redis' clock in ms, the one the bucket refills by. */
async function redisNow(probe: Redis): Promise<number> {
  const [secs, micros] = await probe.time();
  return Number(secs) * 1000 + Number(micros) / 1000;
}

/** `clients` loops split over two gateways (two connections, as two processes), for `seconds`; `spendLeases` then drains them. */
async function run(
  url: string,
  probe: Redis,
  bucket: BucketPolicy,
  key: string,
  spendLeases: boolean,
): Promise<Run> {
  const connections = [0, 1].map(
    () => new Redis(url, { enableAutoPipelining: true, maxRetriesPerRequest: 1 }),
  );
  const limiters = connections.map(
    (redis) => new RedisRateLimiter({ redis, policy: bucket, budgetMs }),
  );
  const out: Run = { admitted: 0, denied: 0, failed: 0, elapsedMs: 0, scriptCalls: 0 };
  const callsBefore = await scriptCalls(probe);
  const startedAt = await redisNow(probe);
  const end = performance.now() + seconds * 1000;
  const client = async (limiter: RedisRateLimiter): Promise<void> => {
    let n = 0;
    while (performance.now() < end) {
      try {
        if ((await limiter.consume(key)).allowed) out.admitted += 1;
        else out.denied += 1;
      } catch {
        out.failed += 1;
      }
      // A lease answers without I/O: yield now and then, as a server between requests would.
      if ((n += 1) % 64 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
  };
  await Promise.all(
    Array.from({ length: clients }, (_, i) => client(limiters[i % 2] as RedisRateLimiter)),
  );
  // Leases still held are spent, not lost: take them one at a time until each gateway is denied.
  if (spendLeases)
    for (const limiter of limiters) while ((await limiter.consume(key)).allowed) out.admitted += 1;
  out.elapsedMs = (await redisNow(probe)) - startedAt;
  out.scriptCalls = (await scriptCalls(probe)) - callsBefore;
  await Promise.all(connections.map((redis) => redis.quit()));
  return out;
}

async function main(): Promise<void> {
  const owned: TestRedis | undefined =
    process.env.REDIS_URL === undefined ? await startRedis() : undefined;
  const url = process.env.REDIS_URL ?? (owned as TestRedis).url;
  const probe = new Redis(url);
  const stamp = Date.now();

  const limited = await run(url, probe, policy, `bench:accuracy:${stamp}`, true);
  const ideal = policy.capacity + (policy.refillPerSecond * limited.elapsedMs) / 1000;
  const under = ((ideal - limited.admitted) / ideal) * 100;
  const decisions = limited.admitted + limited.denied;
  console.log(
    `past the limit: clients ${clients}, gateways 2, ${(limited.elapsedMs / 1000).toFixed(2)} s, capacity ${policy.capacity}, ${policy.refillPerSecond}/s`,
  );
  console.log(
    `  decisions ${decisions} (${(decisions / (limited.elapsedMs / 1000)).toFixed(0)}/s), store failures ${limited.failed}`,
  );
  console.log(
    `  admitted ${limited.admitted}, ideal ${ideal.toFixed(1)}, under-admission ${under.toFixed(2)}% (negative: over)`,
  );
  console.log(
    `  script calls ${limited.scriptCalls} (${(limited.scriptCalls / decisions).toFixed(3)} per decision)`,
  );

  // A hot key that never reaches its limit: what leases save.
  const hot = await run(
    url,
    probe,
    { capacity: 1e9, refillPerSecond: 1e9 },
    `bench:hot:${stamp}`,
    false,
  );
  const hotDecisions = hot.admitted + hot.denied;
  console.log(
    `under the limit: ${hotDecisions} decisions (${(hotDecisions / (hot.elapsedMs / 1000)).toFixed(0)}/s), denied ${hot.denied}, store failures ${hot.failed}`,
  );
  console.log(
    `  script calls ${hot.scriptCalls} (${(hot.scriptCalls / hotDecisions).toFixed(4)} per request)`,
  );

  probe.disconnect();
  await owned?.stop();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
