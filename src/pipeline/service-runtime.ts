/** A service as the request path sees it: pick an upstream target, reach it through a pooled client. */
import type { Pool } from 'undici';
import type { ServiceConfig } from '../config/schema.js';
import type { RequestContext } from './context.js';

/** One upstream instance the proxy can send an attempt to. */
export interface UpstreamTarget {
  readonly id: string;
  readonly origin: string;
  /** Path prefix of the instance URL without a trailing slash ("" for none). */
  readonly basePath: string;
}

/** Outcome of one attempt, reported back so balancing and outlier detection can learn. */
export interface AttemptReport {
  readonly latencyMs: number;
  readonly status: number | undefined;
  readonly failure: string | undefined;
}

/** The runtime of one configured service. */
export interface ServiceRuntime {
  readonly name: string;
  readonly config: ServiceConfig;
  /** Picks a target, never one in `exclude`; undefined when none is available (503). */
  pick(ctx: RequestContext, exclude: ReadonlySet<UpstreamTarget>): UpstreamTarget | undefined;
  pool(target: UpstreamTarget): Pool;
  /** Called when an attempt starts; the returned function when it ends. */
  begin(target: UpstreamTarget): (report: AttemptReport) => void;
  /** Stops background work (health checks) when the snapshot is replaced. */
  close(): void;
}
