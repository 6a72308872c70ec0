/** A route's weighted traffic split across services, compiled once to a picker. */
import type { RouteConfig } from '../config/schema.js';

/** A compiled split: `pick(random)` names the service for one request. */
export interface SplitPicker {
  /** Every service the route may send to, its own first. */
  readonly services: readonly string[];
  pick(random: () => number): string;
}

/** A compiled split, or the message a config check reports. */
export type SplitResult =
  | { readonly ok: true; readonly picker: SplitPicker }
  | { readonly ok: false; readonly message: string };

/**
 * Compiles `split: [{service, weight}]` (weights in percent); the route's own service gets what the split
 * leaves (100 - sum). Fails when the weights add up to more than 100.
 */
export function compileSplit(service: string, split: RouteConfig['split']): SplitResult {
  const entries = split ?? [];
  const total = entries.reduce((sum, entry) => sum + entry.weight, 0);
  if (total > 100)
    return { ok: false, message: `split weights add up to ${total}%, more than 100%` };
  const services = [service, ...entries.map((entry) => entry.service)];
  if (total === 0) return { ok: true, picker: { services, pick: () => service } };
  // Cumulative bounds in [0, 100): a draw below bound i goes to split entry i, the rest to the route's service.
  const bounds: number[] = [];
  let running = 0;
  for (const entry of entries) {
    running += entry.weight;
    bounds.push(running);
  }
  const targets = entries.map((entry) => entry.service);
  return {
    ok: true,
    picker: {
      services,
      pick(random: () => number): string {
        const draw = random() * 100;
        for (let i = 0; i < bounds.length; i++)
          if (draw < (bounds[i] as number)) return targets[i] as string;
        return service;
      },
    },
  };
}
