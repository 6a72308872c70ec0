/** Loads a Lua script from redis/ as an ioredis custom command (EVALSHA with an EVAL fallback). */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import type { RedisClient } from '../store/backend.js';

/** A script as ioredis exposes it once defined: keys first, then args. */
export type ScriptCommand = (...keysThenArgs: Array<string | number>) => Promise<unknown>;

/** redis/ sits at the package root: two levels above src/security, three above dist/src/security. */
function scriptPath(file: string): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, '..', '..', 'redis', file), join(here, '..', '..', '..', 'redis', file)];
  const found = candidates.find((path) => existsSync(path));
  if (found === undefined) throw new Error(`redis script ${file} not found next to the package`);
  return found;
}

/** Defines `redis/<file>` on `redis` as command `name` (idempotent) and returns a caller for it. */
export function defineScript(redis: RedisClient, name: string, file: string, numberOfKeys: number): ScriptCommand {
  const commands = redis as unknown as Record<string, ScriptCommand | undefined>;
  if (typeof commands[name] !== 'function') {
    redis.defineCommand(name, { numberOfKeys, lua: readFileSync(scriptPath(file), 'utf8') });
  }
  const command = commands[name] as ScriptCommand;
  return (...keysThenArgs) => command.apply(redis, keysThenArgs);
}
