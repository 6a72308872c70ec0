/** The key ring's state changes as a pure function: the data-dir store applies it, redis/keys-rotate.lua is the same rule in Lua. */
import type { KeyRecord, KeyState, NewKey } from './key-records.js';

/**
 * How a change treats the ring (see redis/keys-rotate.lua for the full contract):
 * `ensure` fills the first gap (a current key, then a next key); `rotate` makes the next key current and
 * adds the given key as next; `revoke` revokes every key and makes the given key current (a leaked key);
 * `restore` puts back a key the store lost.
 */
export type KeyChange =
  | { readonly mode: 'ensure' | 'rotate' | 'revoke'; readonly key: NewKey }
  | { readonly mode: 'restore'; readonly key: KeyRecord };

/** 1: the given key was stored; 2: `ensure` promoted the next key instead; 0: nothing changed. */
export type KeyChangeResult = 0 | 1 | 2;

/** Applies `change` at `now` to `records`; returns the new ring and the result. */
export function applyKeyChange(
  records: readonly KeyRecord[],
  change: KeyChange,
  now: number,
  maxTokenTtlMs: number,
): { records: KeyRecord[]; result: KeyChangeResult } {
  const ring = new Map<string, KeyRecord>();
  for (const record of records)
    if (record.retireAfter === undefined || record.retireAfter > now) ring.set(record.kid, record);
  const inState = (state: KeyState): KeyRecord[] =>
    [...ring.values()].filter((r) => r.state === state);
  const put = (record: KeyRecord, state: KeyState, retireAfter?: number): void => {
    const { retireAfter: _old, ...rest } = record;
    ring.set(record.kid, { ...rest, state, ...(retireAfter !== undefined ? { retireAfter } : {}) });
  };
  const given = (state: KeyState): void => put({ ...change.key, createdAt: now, state }, state);
  const current = inState('current');
  const next = inState('next');
  let result: KeyChangeResult = 0;

  if (change.mode === 'ensure') {
    if (current.length === 0 && next[0] !== undefined) {
      put(next[0], 'current');
      result = 2;
    } else if (current.length === 0) {
      given('current');
      result = 1;
    } else if (next.length === 0) {
      given('next');
      result = 1;
    }
  } else if (change.mode === 'rotate') {
    for (const record of current) put(record, 'retiring', now + maxTokenTtlMs);
    const [promoted, ...extra] = next;
    if (promoted !== undefined) {
      put(promoted, 'current');
      for (const record of extra) put(record, 'retiring', now + maxTokenTtlMs);
      given('next');
    } else {
      given('current');
    }
    result = 1;
  } else if (change.mode === 'revoke') {
    for (const record of ring.values())
      if (record.state !== 'revoked') put(record, 'revoked', now + maxTokenTtlMs);
    given('current');
    result = 1;
  } else if (change.mode === 'restore' && !ring.has(change.key.kid)) {
    const held = change.key;
    const demoted = held.state === 'current' && current.length > 0;
    const retireAfter = demoted ? now + maxTokenTtlMs : held.retireAfter;
    const kept =
      !(held.state === 'next' && next.length > 0) &&
      (retireAfter === undefined || retireAfter > now);
    if (kept) {
      put(held, demoted ? 'retiring' : held.state, retireAfter);
      result = 1;
    }
  }
  return { records: [...ring.values()], result };
}
