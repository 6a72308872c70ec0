/** Scenarios beyond the proxy path (auth, rate limits, telemetry, discovery), each measured in the same run. */

import { authScenarios } from './auth-scenarios.js';
import { discoveryScenarios } from './discovery-scenarios.js';
import { trafficTelemetryScenarios } from './traffic-telemetry-scenarios.js';
import { workersScenarios } from './workers-scenario.js';

/** One thing to put load on; `pid` is the process whose CPU counts as the proxy's. */
export interface Scenario {
  readonly name: string;
  readonly url: string;
  readonly pid?: number;
  readonly headers?: Record<string, string>;
  /** Also measured loaded together with this scenario (by name), see paired.ts. */
  readonly pairedWith?: string;
  /** Scenarios (by name, or the start of one) this one is also reported as a ratio of. */
  readonly versus?: readonly string[];
}

/** What extra scenarios may build on. */
export interface ScenarioContext {
  readonly upstreams: readonly string[];
  readonly proxyCpu: string;
  /** Where load generators, upstreams and other helpers run. */
  readonly otherCpu: string;
}

/** Scenarios the feature areas add. */
export async function extraScenarios(ctx: ScenarioContext): Promise<Scenario[]> {
  return [
    ...(await authScenarios(ctx)),
    ...(await discoveryScenarios(ctx)),
    ...(await trafficTelemetryScenarios(ctx)),
    ...(await workersScenarios(ctx)),
  ];
}
