/** The one loader of redis/*.lua scripts: reads a file once and defines it on a connection (ioredis defineCommand). */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RedisClient } from './backend.js';

const cache = new Map<string, string>();

/** Finds redis/<file> above this module, so it resolves from src/ (tsx) and from dist/src/ (built). */
export function readScript(file: string): string {
  const cached = cache.get(file);
  if (cached !== undefined) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let depth = 0; depth < 6; depth += 1) {
    const candidate = join(dir, 'redis', file);
    if (existsSync(candidate)) {
      const lua = readFileSync(candidate, 'utf8');
      cache.set(file, lua);
      return lua;
    }
    dir = dirname(dir);
  }
  throw new Error(`redis script ${file} not found above ${fileURLToPath(import.meta.url)}`);
}

/** A script command as ioredis defines it: keys then args, resolving to the script's reply. */
export type ScriptCommand<Reply> = (...keysThenArgs: Array<string | number>) => Promise<Reply>;

/**
 * Defines `name` from redis/<file> on the connection once (EVALSHA with an EVAL fallback, as ioredis
 * does for defineCommand) and returns the bound command.
 */
export function defineScript<Reply>(
  redis: RedisClient,
  name: string,
  file: string,
  numberOfKeys: number,
): ScriptCommand<Reply> {
  const commands = redis as unknown as Record<string, ScriptCommand<Reply> | undefined>;
  if (typeof commands[name] !== 'function')
    redis.defineCommand(name, { lua: readScript(file), numberOfKeys });
  const command = commands[name] as ScriptCommand<Reply>;
  return command.bind(redis);
}
