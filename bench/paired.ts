/**
 * Paired measurement: a scenario and its baseline loaded at the same time, both gateways on the same CPU.
 * This machine's speed drifts by tens of percent between runs, which sequential runs read as a difference
 * between configurations; loaded together, both see the same machine, and the per-round ratio keeps only
 * what the configuration costs. An A/A pairing (one config twice) measured 0.96-1.04, median 1.01.
 */
import { cpuSeconds, drive } from './load.js';
import { median } from './median.js';
import type { Scenario } from './scenarios.js';

/** Medians over the rounds of the scenario-to-baseline ratios. */
export interface PairedResult {
  readonly perCpu: number;
  readonly rps: number;
  readonly rounds: readonly number[];
}

/** Runs `rounds` rounds of `seconds` with half the connections on each side; both scenarios need a pid. */
export async function measurePaired(
  scenario: Scenario,
  baseline: Scenario,
  rounds: number,
  seconds: number,
  connections: number,
  loadCpu: string,
): Promise<PairedResult> {
  const perCpu: number[] = [];
  const rps: number[] = [];
  const half = Math.max(1, Math.floor(connections / 2));
  for (let round = 0; round < rounds; round++) {
    const pids = [scenario.pid as number, baseline.pid as number];
    const before = pids.map(cpuSeconds);
    const [a, b] = await Promise.all(
      [scenario, baseline].map((s) => drive(s.url, seconds, half, loadCpu, s.headers)),
    );
    const used = pids.map((pid, i) => cpuSeconds(pid) - (before[i] as number));
    if (a === undefined || b === undefined) throw new Error('paired load did not return');
    perCpu.push(a.rps / (used[0] as number) / (b.rps / (used[1] as number)));
    rps.push(a.rps / b.rps);
  }
  return { perCpu: median(perCpu), rps: median(rps), rounds: perCpu };
}
