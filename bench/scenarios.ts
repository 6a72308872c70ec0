/** Scenarios beyond the proxy path (auth, rate limits, telemetry, discovery), each measured in the same run. */

import { authGroup } from './auth-scenarios.js';
import { discoveryGroup } from './discovery-scenarios.js';
import { trafficTelemetryGroup } from './traffic-telemetry-scenarios.js';
import { workersGroup } from './workers-scenario.js';

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

/** Where a scenario's load goes: what its group's processes serve. */
export type Target = Pick<Scenario, 'url' | 'pid' | 'headers'>;

/** What a scenario is called and compared with, known before any process starts. */
export type ScenarioSpec = Omit<Scenario, keyof Target>;

/** Scenarios served by the same processes: started together, and only when one of them is measured. */
export interface ScenarioGroup {
  readonly scenarios: readonly ScenarioSpec[];
  /** Starts the processes (they live until the bench exits); the target of each scenario, by name. */
  start(ctx: ScenarioContext): Promise<Readonly<Record<string, Target>>>;
}

/** Scenario groups the feature areas add. */
export const extraScenarioGroups: readonly ScenarioGroup[] = [
  authGroup,
  discoveryGroup,
  trafficTelemetryGroup,
  workersGroup,
];
