/** The registry's Redis keys and Lua scripts (redis/registry-*.lua), defined once on any ioredis client. */
import type { RedisClient } from '../store/backend.js';
import { readScript } from '../store/lua-script.js';

/**
 * Every registry key shares the hash tag `{registry}`, so each script touches a single Redis Cluster slot.
 * Order matters: it is the KEYS order of every script.
 */
export const REGISTRY_KEYS = [
  'edgeway:{registry}:instances',
  'edgeway:{registry}:expiry',
  'edgeway:{registry}:index',
] as const;

/** The change feed: scripts PUBLISH a service name here whenever its instances change. */
export const REGISTRY_CHANNEL = 'edgeway:{registry}:changes';

const SCRIPTS = {
  registryRegister: 'registry-register.lua',
  registryDeregister: 'registry-deregister.lua',
  registrySweep: 'registry-sweep.lua',
  registryRead: 'registry-read.lua',
} as const;

type KeyArgs = typeof REGISTRY_KEYS;

/** The commands defineRegistryCommands adds, as ioredis exposes them (keys first, then ARGV). */
export interface RegistryCommands {
  registryRegister(
    ...args: [
      ...KeyArgs,
      service: string,
      id: string,
      record: string,
      ttlMs: number,
      channel: string,
    ]
  ): Promise<[number, number]>;
  registryDeregister(
    ...args: [...KeyArgs, service: string, id: string, channel: string]
  ): Promise<number>;
  registrySweep(...args: [...KeyArgs, channel: string, limit: number]): Promise<number>;
  registryRead(...args: [...KeyArgs, service: string]): Promise<string[]>;
}

let sources: Record<keyof typeof SCRIPTS, string> | undefined;

/** The Lua source of each registry script, read from disk once. */
export function registryScriptSources(): Readonly<Record<keyof typeof SCRIPTS, string>> {
  sources ??= {
    registryRegister: readScript(SCRIPTS.registryRegister),
    registryDeregister: readScript(SCRIPTS.registryDeregister),
    registrySweep: readScript(SCRIPTS.registrySweep),
    registryRead: readScript(SCRIPTS.registryRead),
  };
  return sources;
}

/**
 * Defines the registry scripts on a client (idempotent) and returns it typed with them. ioredis sends
 * EVALSHA and falls back to EVAL on NOSCRIPT, so a restarted, empty Redis needs no reloading step.
 */
export function defineRegistryCommands(client: RedisClient): RegistryCommands {
  const lua = registryScriptSources();
  for (const name of Object.keys(SCRIPTS) as Array<keyof typeof SCRIPTS>) {
    if (typeof (client as unknown as Record<string, unknown>)[name] === 'function') continue;
    client.defineCommand(name, {
      lua: lua[name],
      numberOfKeys: REGISTRY_KEYS.length,
      readOnly: name === 'registryRead',
    });
  }
  return client as unknown as RegistryCommands;
}
