/** Where alert episodes are deduplicated: a Lua compare-and-set in Redis (all gateways) or a local map. */
import type { RedisClient } from '../store/backend.js';
import { defineScript, type ScriptCommand } from '../store/lua-script.js';

/** An alert rule's shared state. */
export type AlertState = 'firing' | 'resolved';

/** Decides which evaluator announces a state change. */
export interface AlertStateStore {
  /** Sets the rule's state; true when this call changed it (and so the caller notifies). */
  transition(rule: string, state: AlertState): Promise<boolean>;
}

/** The state of rules on one gateway (the in-memory store). */
export class MemoryAlertState implements AlertStateStore {
  readonly #states = new Map<string, AlertState>();

  async transition(rule: string, state: AlertState): Promise<boolean> {
    if ((this.#states.get(rule) ?? 'resolved') === state) return false;
    this.#states.set(rule, state);
    return true;
  }
}

/** Keeps a rule's state this long after its last change (a rule removed from config leaves nothing behind). */
export const ALERT_STATE_RETENTION_MS = 7 * 24 * 3_600_000;

/** The Redis key of a rule's state (one slot for all rules). */
export function alertKey(rule: string): string {
  return `edgeway:{alerts}:${rule}`;
}

/** Shared state in Redis: one Lua compare-and-set per transition (redis/alerts-transition.lua). */
export class RedisAlertState implements AlertStateStore {
  readonly #cas: ScriptCommand<[number, number]>;

  constructor(redis: RedisClient) {
    this.#cas = defineScript<[number, number]>(redis, 'edgewayAlertTransition', 'alerts-transition.lua', 1);
  }

  async transition(rule: string, state: AlertState): Promise<boolean> {
    const [changed] = await this.#cas(alertKey(rule), state, ALERT_STATE_RETENTION_MS);
    return changed === 1;
  }
}
