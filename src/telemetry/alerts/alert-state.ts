/** Where alert episodes are deduplicated and their changes listed: Lua scripts in Redis (all gateways) or local memory. */
import type { RedisClient } from '../../store/backend.js';
import { defineScript, type ScriptCommand } from '../../store/lua-script.js';
import type { AlertEvent } from './alerts.js';

/** State changes kept in the alert history. */
export const ALERT_HISTORY_SIZE = 50;

/** An alert rule's shared state. */
export type AlertState = 'firing' | 'resolved';

/** Decides which evaluator announces a state change, and keeps the announced changes. */
export interface AlertStateStore {
  /** Sets the rule's state; true when this call changed it (and so the caller notifies). */
  transition(rule: string, state: AlertState): Promise<boolean>;
  /** Adds an announced change to the history. */
  record(event: AlertEvent): Promise<void>;
  /** The last {@link ALERT_HISTORY_SIZE} changes, newest first. */
  history(): Promise<AlertEvent[]>;
}

/** The state of rules on one gateway (the in-memory store). */
export class MemoryAlertState implements AlertStateStore {
  readonly #states = new Map<string, AlertState>();
  readonly #history: AlertEvent[] = [];

  async transition(rule: string, state: AlertState): Promise<boolean> {
    if ((this.#states.get(rule) ?? 'resolved') === state) return false;
    this.#states.set(rule, state);
    return true;
  }

  async record(event: AlertEvent): Promise<void> {
    this.#history.unshift(event);
    if (this.#history.length > ALERT_HISTORY_SIZE) this.#history.pop();
  }

  async history(): Promise<AlertEvent[]> {
    return [...this.#history];
  }
}

/** Keeps a rule's state this long after its last change (a rule removed from config leaves nothing behind). */
export const ALERT_STATE_RETENTION_MS = 7 * 24 * 3_600_000;

/** The Redis key of a rule's state (one slot for all rules). */
export function alertKey(rule: string): string {
  return `edgeway:{alerts}:${rule}`;
}

/** The Redis list of announced changes, newest first (same slot as the rules' states). */
export const ALERT_HISTORY_KEY = 'edgeway:{alerts}:history';

/**
 * Shared state in Redis: one Lua compare-and-set per transition (redis/alerts-transition.lua), and one
 * list of the changes the announcing gateways appended (redis/alerts-history-add.lua).
 */
export class RedisAlertState implements AlertStateStore {
  readonly #redis: RedisClient;
  readonly #cas: ScriptCommand<[number, number]>;
  readonly #append: ScriptCommand<number>;

  constructor(redis: RedisClient) {
    this.#redis = redis;
    this.#cas = defineScript<[number, number]>(
      redis,
      'edgewayAlertTransition',
      'alerts-transition.lua',
      1,
    );
    this.#append = defineScript<number>(
      redis,
      'edgewayAlertHistoryAdd',
      'alerts-history-add.lua',
      1,
    );
  }

  async transition(rule: string, state: AlertState): Promise<boolean> {
    const [changed] = await this.#cas(alertKey(rule), state, ALERT_STATE_RETENTION_MS);
    return changed === 1;
  }

  async record(event: AlertEvent): Promise<void> {
    await this.#append(
      ALERT_HISTORY_KEY,
      JSON.stringify(event),
      ALERT_HISTORY_SIZE,
      ALERT_STATE_RETENTION_MS,
    );
  }

  async history(): Promise<AlertEvent[]> {
    const raw = await this.#redis.lrange(ALERT_HISTORY_KEY, 0, ALERT_HISTORY_SIZE - 1);
    const out: AlertEvent[] = [];
    for (const value of raw) {
      try {
        out.push(JSON.parse(value) as AlertEvent);
      } catch {
        // An entry another version wrote in a shape this one cannot read: leave it out.
      }
    }
    return out;
  }
}
