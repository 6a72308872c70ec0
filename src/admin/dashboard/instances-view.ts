/** The dashboard's services: each instance's true state (active checks, passive ejection, draining, slow start). */
import { slowStartFactor } from '../../balancing/endpoint.js';
import type { ServiceRuntime } from '../../proxy/service-runtime.js';
import type { StatsCollector } from '../../telemetry/history/stats.js';
import {
  ATTEMPT_OUTCOMES,
  outcomeRecord,
  type AttemptOutcomeName,
} from '../../telemetry/history/instance-stats.js';

/** What an instance is doing now, worst first: the one word an operator reads. */
export type InstanceState = 'unhealthy' | 'ejected' | 'draining' | 'slow-start' | 'up';

/** One instance as the dashboard shows it. */
export interface InstanceRow {
  readonly id: string;
  readonly url: string;
  readonly state: InstanceState;
  /** Active health checks: their verdict, or `unchecked` when the service has none configured. */
  readonly active: 'healthy' | 'unhealthy' | 'unchecked';
  /** Outlier detection: ejected until this time (epoch ms), or null. */
  readonly ejectedUntil: number | null;
  /** Ejections since the gateway first saw the instance. */
  readonly ejections: number;
  /** Failed attempts in a row right now (5xx, connect failure, reset, timeout). */
  readonly consecutiveFailures: number;
  readonly draining: boolean;
  /** Share of its weight the instance gets while warming up, 0..1 (1 when not in slow start). */
  readonly slowStart: number;
  readonly weight: number;
  readonly inFlight: number;
  /** Time-decayed attempt latency on this gateway, ms; null before the first answer. */
  readonly latencyMs: number | null;
  /** Attempts by outcome over the selected range (all gateways when the source is Redis). */
  readonly attempts: Readonly<Record<AttemptOutcomeName, number>>;
  /** This gateway's attempt latency p99 over the last 15 minutes, ms. */
  readonly p99Ms: number | null;
}

/** One configured service. */
export interface ServiceRow {
  readonly name: string;
  readonly discovery: 'redis' | 'static';
  readonly healthChecked: boolean;
  readonly outlierDetection: boolean;
  readonly instances: readonly InstanceRow[];
}

/** Attempt counts by service, instance id and outcome name (from the range's fleet hash). */
export type AttemptCounts = ReadonlyMap<string, ReadonlyMap<string, Record<string, number>>>;

/** The rows of every configured service, sorted by name. */
export function serviceRows(
  services: ReadonlyMap<string, ServiceRuntime>,
  attempts: AttemptCounts,
  stats: StatsCollector,
  now: number,
): ServiceRow[] {
  const rows: ServiceRow[] = [];
  for (const [name, runtime] of services) {
    const checked = runtime.config.healthCheck !== undefined;
    const slowStartMs = runtime.config.loadBalancer.slowStart;
    const counts = attempts.get(name);
    const instances = runtime.endpoints().map((endpoint): InstanceRow => {
      const ejected = endpoint.ejectedUntil > now;
      const slowStart = slowStartFactor(endpoint, now, slowStartMs);
      const unhealthy = checked && !endpoint.healthy;
      const state: InstanceState = unhealthy
        ? 'unhealthy'
        : ejected
          ? 'ejected'
          : endpoint.draining
            ? 'draining'
            : slowStart < 1
              ? 'slow-start'
              : 'up';
      const own = counts?.get(endpoint.id) ?? {};
      const p99 = stats.findInstance(name, endpoint.id)?.summary(15).p99Ms;
      return {
        id: endpoint.id,
        url: endpoint.url,
        state,
        active: !checked ? 'unchecked' : endpoint.healthy ? 'healthy' : 'unhealthy',
        ejectedUntil: ejected ? endpoint.ejectedUntil : null,
        ejections: endpoint.ejections,
        consecutiveFailures: endpoint.consecutiveFailures,
        draining: endpoint.draining,
        slowStart,
        weight: endpoint.weight,
        inFlight: endpoint.inFlight,
        latencyMs: endpoint.ewmaLatencyMs > 0 ? endpoint.ewmaLatencyMs : null,
        attempts: outcomeRecord(ATTEMPT_OUTCOMES.map((outcome) => own[outcome] ?? 0)),
        p99Ms: p99 ?? null,
      };
    });
    rows.push({
      name,
      discovery: runtime.config.discovery,
      healthChecked: checked,
      outlierDetection: runtime.config.outlierDetection !== undefined,
      instances,
    });
  }
  return rows.sort((a, b) => (a.name < b.name ? -1 : 1));
}
