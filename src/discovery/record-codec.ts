/** The registry's Redis encoding: member "<service>/<id>" and a record JSON that any language can write. */
import { checkRegistration, type InstanceRecord, type InstanceRegistration } from './instance.js';

/** The JSON stored per instance (id and service live in the member, not in the JSON). */
export interface StoredRecord {
  url: string;
  weight?: number;
  capacity?: number;
  meta?: Record<string, string>;
  draining?: boolean;
}

/** The hash and sorted-set member of an instance. Names cannot contain "/", so the split is unambiguous. */
export function memberOf(service: string, id: string): string {
  return `${service}/${id}`;
}

/**
 * Encodes a checked registration with a fixed key order (meta keys arrive sorted from checkRegistration),
 * so re-registering the same instance writes the same bytes and the script sees a plain heartbeat.
 */
export function encodeRecord(reg: InstanceRegistration): string {
  const stored: StoredRecord = {
    url: reg.url,
    weight: reg.weight,
    capacity: reg.capacity,
    meta: { ...reg.meta },
    draining: reg.draining,
  };
  return JSON.stringify(stored);
}

/**
 * Decodes one stored instance, or returns an error message when someone wrote a malformed record by
 * hand (the registry skips it rather than serving a bad upstream).
 */
export function decodeRecord(
  member: string,
  json: string,
  expiresAt: number,
): InstanceRecord | string {
  const slash = member.indexOf('/');
  if (slash < 1) return `bad registry member "${member}"`;
  let stored: StoredRecord;
  try {
    stored = JSON.parse(json) as StoredRecord;
  } catch {
    return `instance "${member}" has a record that is not JSON`;
  }
  try {
    const reg = checkRegistration({
      ...stored,
      service: member.slice(0, slash),
      id: member.slice(slash + 1),
    });
    return Object.freeze({ ...reg, expiresAt });
  } catch (err) {
    return `instance "${member}" is invalid: ${(err as Error).message}`;
  }
}

/**
 * Groups a registry-read.lua reply (member, JSON, expiresAt triples) by service; a malformed record is
 * handed to `skip` with its problem and left out.
 */
export function groupReadReply(
  reply: readonly string[],
  skip: (member: string, problem: string) => void,
): Map<string, InstanceRecord[]> {
  const byService = new Map<string, InstanceRecord[]>();
  for (let i = 0; i + 2 < reply.length; i += 3) {
    const member = reply[i] as string;
    const rec = decodeRecord(member, reply[i + 1] as string, Number(reply[i + 2]));
    if (typeof rec === 'string') {
      skip(member, rec);
      continue;
    }
    const list = byService.get(rec.service) ?? [];
    list.push(rec);
    byService.set(rec.service, list);
  }
  return byService;
}
