/** Active health checks: probe each endpoint (HTTP GET or the gRPC health protocol) and mark it down or up after enough results in a row. */
import * as http from 'node:http';
import * as https from 'node:https';
import type { ConnectionOptions } from 'node:tls';
import type { HealthCheck } from '../config/schema.js';
import type { Endpoint } from '../balancing/endpoint.js';
import { grpcHealthProbe } from './grpc-health.js';

/** A service's parsed `healthCheck` block (durations in ms). */
export type HealthCheckConfig = HealthCheck;

/** Callbacks and connection settings of a HealthChecker. */
export interface HealthCheckerOptions {
  /** Called when an endpoint's `healthy` flips (for logs, metrics and the dashboard). */
  readonly onChange?: (endpoint: Endpoint, healthy: boolean) => void;
  /** TLS to https instances (the service's compiled `upstreamTls`): CA, client certificate, server name. */
  readonly tls?: ConnectionOptions;
}

/**
 * Sends one probe to `origin` and calls `done` once with whether it passed (at most once; later calls are
 * ignored by the caller); returns what cuts the probe short.
 */
export type Prober = (origin: string, done: (passed: boolean) => void) => () => void;

/** GET `path`: a 2xx passes; anything else (other status, refused, reset, TLS refused) fails. */
function httpProbe(path: string, tls: ConnectionOptions | undefined): Prober {
  return (origin, done) => {
    const url = new URL(path, origin);
    const secure = url.protocol === 'https:';
    const client = secure ? https : http;
    // agent: false gives each probe its own connection, so a probe also tests that connections are accepted.
    const request = client.request(url, {
      ...(secure ? tls : undefined),
      method: 'GET',
      agent: false,
      headers: { 'user-agent': 'edgeway-health-check' },
    });
    request.on('response', (response) => {
      response.resume();
      const status = response.statusCode ?? 0;
      done(status >= 200 && status < 300);
    });
    request.on('error', () => done(false));
    request.end();
    return () => request.destroy();
  };
}

/** Per-endpoint probe state. */
interface Probe {
  timer: NodeJS.Timeout | undefined;
  deadline: NodeJS.Timeout | undefined;
  /** Cuts the probe on the wire short. */
  abort: (() => void) | undefined;
  /** Ends this probe's claim on its endpoint (see `onTheWire`). */
  release: (() => void) | undefined;
  successes: number;
  failures: number;
}

/**
 * The probe of each endpoint on the wire, across checkers: a reload builds the new snapshot's checker
 * before the old one stops, and its first probe waits for the old one's instead of overlapping it.
 */
const onTheWire = new WeakMap<Endpoint, Promise<void>>();

/**
 * Probes every endpoint (`GET <origin><path>`, or grpc.health.v1.Health/Check): the first probe at once, then `interval` after the
 * previous one finished, so at most one probe per endpoint is ever in flight, even when `timeout` is longer
 * than `interval` or two checkers (old and new snapshot) share the endpoint. A pass (a 2xx; SERVING) within
 * `timeout` is a pass; anything else (other answer, refused, reset, timeout) a failure. `unhealthyThreshold` failures in
 * a row mark the endpoint unhealthy, `healthyThreshold` passes in a row healthy again.
 */
export class HealthChecker {
  private readonly probes = new Map<Endpoint, Probe>();
  private running = false;
  private readonly send: Prober;

  constructor(
    private readonly config: HealthCheckConfig,
    private readonly options: HealthCheckerOptions = {},
  ) {
    this.send =
      config.type === 'grpc'
        ? grpcHealthProbe(config.service, options.tls)
        : httpProbe(config.path, options.tls);
  }

  /** Starts probing `endpoints`. */
  start(endpoints: readonly Endpoint[]): void {
    this.running = true;
    this.update(endpoints);
  }

  /** Follows a change of the endpoint set: probes new endpoints, stops probing gone ones. */
  update(endpoints: readonly Endpoint[]): void {
    if (!this.running) return;
    const wanted = new Set(endpoints);
    for (const [endpoint, probe] of this.probes) {
      if (wanted.has(endpoint)) continue;
      cancel(probe);
      this.probes.delete(endpoint);
    }
    for (const endpoint of endpoints) {
      if (this.probes.has(endpoint)) continue;
      const probe: Probe = {
        timer: undefined,
        deadline: undefined,
        abort: undefined,
        release: undefined,
        successes: 0,
        failures: 0,
      };
      this.probes.set(endpoint, probe);
      this.probe(endpoint, probe);
    }
  }

  /** Stops every timer and aborts probes in flight. */
  stop(): void {
    this.running = false;
    for (const probe of this.probes.values()) cancel(probe);
    this.probes.clear();
  }

  private probe(endpoint: Endpoint, probe: Probe): void {
    probe.timer = undefined;
    const busy = onTheWire.get(endpoint);
    if (busy !== undefined) {
      void busy.then(() => {
        if (this.probes.get(endpoint) === probe) this.probe(endpoint, probe);
      });
      return;
    }
    probe.release = claim(endpoint);
    let settled = false;
    const settle = (passed: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(probe.deadline);
      probe.deadline = undefined;
      probe.abort?.();
      probe.abort = undefined;
      probe.release?.();
      probe.release = undefined;
      // A probe cut short by stop() or removal reports nothing and schedules nothing.
      if (this.probes.get(endpoint) !== probe) return;
      this.count(endpoint, probe, passed);
      probe.timer = setTimeout(() => this.probe(endpoint, probe), this.config.interval);
      probe.timer.unref();
    };
    // The socket `timeout` option only bounds idleness; this bounds the whole exchange.
    probe.deadline = setTimeout(() => settle(false), this.config.timeout);
    probe.deadline.unref();
    const abort = this.send(endpoint.origin, settle);
    // A probe that settled while it was being sent (a synchronous error) still holds its connection.
    if (settled) abort();
    else probe.abort = abort;
  }

  private count(endpoint: Endpoint, probe: Probe, passed: boolean): void {
    if (passed) {
      probe.failures = 0;
      probe.successes++;
      if (!endpoint.healthy && probe.successes >= this.config.healthyThreshold)
        this.flip(endpoint, true);
    } else {
      probe.successes = 0;
      probe.failures++;
      if (endpoint.healthy && probe.failures >= this.config.unhealthyThreshold)
        this.flip(endpoint, false);
    }
  }

  private flip(endpoint: Endpoint, healthy: boolean): void {
    endpoint.healthy = healthy;
    this.options.onChange?.(endpoint, healthy);
  }
}

function cancel(probe: Probe): void {
  clearTimeout(probe.timer);
  clearTimeout(probe.deadline);
  probe.timer = undefined;
  probe.deadline = undefined;
  probe.abort?.();
  probe.abort = undefined;
  probe.release?.();
  probe.release = undefined;
}

/** Marks a probe of `endpoint` as on the wire; the returned function ends the mark and wakes a waiting probe. */
function claim(endpoint: Endpoint): () => void {
  let release: () => void = () => undefined;
  const wire = new Promise<void>((resolve) => (release = resolve));
  onTheWire.set(endpoint, wire);
  return () => {
    if (onTheWire.get(endpoint) === wire) onTheWire.delete(endpoint);
    release();
  };
}
