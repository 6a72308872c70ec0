/** What the registry knows about one upstream instance, and the checks a registration must pass. */
import { GatewayError } from '../errors.js';
import { httpUrlProblem } from '../config/http-url.js';
import {
  MAX_INSTANCE_CAPACITY,
  MAX_INSTANCE_WEIGHT,
  MAX_REGISTRATION_TTL_MS,
} from '../config/instance-limits.js';

/** One instance of a service as the registry serves it. */
export interface InstanceRecord {
  readonly id: string;
  readonly service: string;
  /** Base URL requests are forwarded to (http or https, with a host). */
  readonly url: string;
  /** Relative share for weighted balancing. */
  readonly weight: number;
  /** Requests the instance takes at once; balancers and load shedding read it. */
  readonly capacity: number;
  readonly meta: Readonly<Record<string, string>>;
  /** A draining instance finishes its requests but gets no new ones. */
  readonly draining: boolean;
  /** When the instance drops out unless heartbeated, ms since epoch; Infinity for static instances. */
  readonly expiresAt: number;
}

/** A registration: the record without its expiry, which the registry derives from the TTL. */
export type InstanceRegistration = Omit<InstanceRecord, 'expiresAt'>;

/** A registration as callers write it: optional fields take the defaults below. */
export interface RegistrationInput {
  readonly id: string;
  readonly service: string;
  readonly url: string;
  readonly weight?: number | undefined;
  readonly capacity?: number | undefined;
  readonly meta?: Readonly<Record<string, string>> | undefined;
  readonly draining?: boolean | undefined;
}

/** Defaults of a registration's optional fields. */
export const REGISTRATION_DEFAULTS = { weight: 1, capacity: 100 } as const;

/** Service names and instance ids: they appear in Redis members as "<service>/<id>", so no "/". */
export const NAME_PATTERN = /^[A-Za-z0-9._:-]+$/;

const MAX_NAME_LENGTH = 200;
const MAX_URL_LENGTH = 2048;

function fail(message: string): never {
  throw new GatewayError('bad_request', message);
}

function checkName(what: string, value: unknown): string {
  if (typeof value !== 'string' || value.length > MAX_NAME_LENGTH || !NAME_PATTERN.test(value)) {
    fail(`${what} must be 1-${MAX_NAME_LENGTH} characters of [A-Za-z0-9._:-]`);
  }
  return value;
}

function checkUrl(value: unknown): string {
  if (typeof value !== 'string' || value.length > MAX_URL_LENGTH)
    fail('url must be an absolute URL');
  const problem = httpUrlProblem(value);
  if (problem !== undefined) fail(problem);
  return value;
}

function checkCount(what: 'weight' | 'capacity', value: unknown, max: number): number {
  if (value === undefined) return REGISTRATION_DEFAULTS[what];
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1)
    fail(`${what} must be an integer >= 1`);
  if (value > max) fail(`${what} must be at most ${max}`);
  return value;
}

function checkMeta(value: unknown): Readonly<Record<string, string>> {
  if (value === undefined) return Object.freeze({});
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    fail('meta must be an object of strings');
  const meta: Record<string, string> = {};
  for (const key of Object.keys(value).sort()) {
    const entry = (value as Record<string, unknown>)[key];
    if (key === '' || typeof entry !== 'string') fail('meta must map non-empty keys to strings');
    meta[key] = entry;
  }
  return Object.freeze(meta);
}

/**
 * Validates a registration and applies defaults; meta keys come out sorted so equal registrations
 * encode to equal JSON. Throws GatewayError `bad_request` naming the first bad field.
 */
export function checkRegistration(input: RegistrationInput): InstanceRegistration {
  if (typeof input !== 'object' || input === null) fail('a registration must be an object');
  if (input.draining !== undefined && typeof input.draining !== 'boolean')
    fail('draining must be a boolean');
  return Object.freeze({
    id: checkName('id', input.id),
    service: checkName('service', input.service),
    url: checkUrl(input.url),
    weight: checkCount('weight', input.weight, MAX_INSTANCE_WEIGHT),
    capacity: checkCount('capacity', input.capacity, MAX_INSTANCE_CAPACITY),
    meta: checkMeta(input.meta),
    draining: input.draining ?? false,
  });
}

/** Validates a TTL in milliseconds: a positive integer (Redis scores and timers need a finite value) up to 24h. */
export function checkTtl(ttlMs: number): number {
  if (!Number.isSafeInteger(ttlMs) || ttlMs < 1)
    fail('ttl must be a positive integer of milliseconds');
  if (ttlMs > MAX_REGISTRATION_TTL_MS) fail('ttl must be at most 24h');
  return ttlMs;
}

/** True when two records describe the same instance the same way, whatever their expiry. */
export function sameRegistration(a: InstanceRegistration, b: InstanceRegistration): boolean {
  if (a.id !== b.id || a.service !== b.service || a.url !== b.url || a.weight !== b.weight)
    return false;
  if (a.capacity !== b.capacity || a.draining !== b.draining) return false;
  const keys = Object.keys(a.meta);
  return (
    keys.length === Object.keys(b.meta).length && keys.every((key) => a.meta[key] === b.meta[key])
  );
}

/** Static instances from config (`instances:` of a service): never expire; ids are the host, then host.2, ... */
export function staticInstances(
  service: string,
  instances: ReadonlyArray<string | { url: string; weight?: number; capacity?: number }>,
): readonly InstanceRecord[] {
  const seen = new Map<string, number>();
  return Object.freeze(
    instances.map((entry) => {
      const spec = typeof entry === 'string' ? { url: entry } : entry;
      // IPv6 hosts come bracketed ("[::1]:9001"); brackets are not allowed in ids.
      const host = new URL(spec.url).host.replace(/[^A-Za-z0-9._:-]/g, '_');
      const count = (seen.get(host) ?? 0) + 1;
      seen.set(host, count);
      const id = count === 1 ? host : `${host}.${count}`;
      return Object.freeze({ ...checkRegistration({ ...spec, service, id }), expiresAt: Infinity });
    }),
  );
}
