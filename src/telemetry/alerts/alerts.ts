/** Alert rules from config, evaluated every few seconds from the rolling stats; episodes deduplicated across gateways. */
import type { Logger } from 'pino';
import type { AlertRule, AlertsConfig } from '../../config/alerts-schema.js';
import { ALERT_HISTORY_SIZE, type AlertStateStore } from './alert-state.js';
import type { CertificatesView } from '../certificates.js';
import type { ServicesView } from '../services-view.js';
import type { StatsCollector } from '../history/stats.js';
import type { WebhookSender } from './webhook.js';

/** A firing alert as the dashboard lists it. */
export interface ActiveAlert {
  readonly rule: string;
  readonly kind: AlertRule['kind'];
  readonly subject: string;
  /** The observed value when last evaluated (ratio, ms, healthy count, 0/1). */
  readonly value: number;
  readonly threshold: number;
  /** When the condition started holding, epoch ms. */
  readonly since: number;
}

/** A state change of a rule, as this gateway saw it. */
export interface AlertEvent {
  readonly rule: string;
  readonly kind: AlertRule['kind'];
  readonly subject: string;
  readonly state: 'firing' | 'resolved';
  /** When the change happened, epoch ms. */
  readonly at: number;
  /** When the condition started holding, epoch ms. */
  readonly since: number;
  readonly value: number;
  readonly threshold: number;
}

/** What the rules read. */
export interface AlertSources {
  readonly stats: StatsCollector;
  readonly servicesView?: ServicesView;
  /** Whether Redis answers; absent on the in-memory store (redis-down rules then never fire). */
  readonly redisUp?: () => boolean;
  /** The ACME certificates; absent without `gateway.tls.acme` (certificate-expiry rules then never fire). */
  readonly certificates?: CertificatesView;
}

/** A rule's observation: whether its condition holds now, and the value behind it. */
interface Observation {
  readonly breached: boolean;
  readonly value: number;
  readonly threshold: number;
  readonly subject: string;
}

function observe(rule: AlertRule, sources: AlertSources): Observation {
  switch (rule.kind) {
    case 'error-ratio': {
      const w = sources.stats.window(rule.route, 60);
      return {
        breached: w.requests >= rule.minRequests && w.errorRatio >= rule.threshold,
        value: w.errorRatio,
        threshold: rule.threshold,
        subject: rule.route,
      };
    }
    case 'latency-p99': {
      const p99 = sources.stats.window(rule.route, 60).p99Ms ?? 0;
      return {
        breached: p99 >= rule.thresholdMs,
        value: p99,
        threshold: rule.thresholdMs,
        subject: rule.route,
      };
    }
    case 'no-healthy-instance': {
      const service = sources.servicesView?.().find((s) => s.name === rule.service);
      const healthy = service?.instances.filter((i) => i.healthy).length ?? 0;
      return {
        breached: sources.servicesView !== undefined && healthy === 0,
        value: healthy,
        threshold: 1,
        subject: rule.service,
      };
    }
    case 'certificate-expiry': {
      // The domain closest to expiry; a domain with no certificate yet counts as expired (0).
      const left = (sources.certificates?.() ?? [])
        .filter((c) => rule.domain === undefined || c.domain === rule.domain)
        .map((c) => ({ domain: c.domain, ms: (c.notAfter ?? 0) - Date.now() }))
        .sort((a, b) => a.ms - b.ms)[0];
      return {
        breached: left !== undefined && left.ms < rule.within,
        value: Math.max(left?.ms ?? 0, 0),
        threshold: rule.within,
        subject: left?.domain ?? rule.domain ?? 'certificates',
      };
    }
    case 'redis-down': {
      const up = sources.redisUp?.() ?? true;
      return { breached: !up, value: up ? 1 : 0, threshold: 1, subject: 'redis' };
    }
  }
}

interface RuleState {
  pendingSince: number | undefined;
  firing: boolean;
  last: Observation | undefined;
}

/** Options for {@link AlertEvaluator}. */
export interface AlertEvaluatorOptions {
  /** Shared state: RedisAlertState with Redis, MemoryAlertState otherwise. */
  readonly store: AlertStateStore;
  /** Local state for rules that cannot use the shared store (redis-down). */
  readonly localStore: AlertStateStore;
  readonly webhooks: WebhookSender;
  /** Where transitions and evaluation failures are logged. */
  readonly logger: Logger;
  readonly now?: () => number;
  /** Evaluation period, milliseconds (default 5000). */
  readonly intervalMs?: number;
  /** This gateway's name in notifications (default: host name and pid, supplied by the caller). */
  readonly gateway?: string;
}

/**
 * Evaluates rules on a timer. A condition must hold for the rule's `for` before it fires. The shared
 * store decides which gateway announces each change, so N gateways send one `firing` and one
 * `resolved` per episode.
 */
export class AlertEvaluator {
  readonly #rules: readonly AlertRule[];
  readonly #sources: AlertSources;
  readonly #options: AlertEvaluatorOptions;
  readonly #now: () => number;
  readonly #states = new Map<string, RuleState>();
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> = Promise.resolve();

  constructor(config: AlertsConfig, sources: AlertSources, options: AlertEvaluatorOptions) {
    this.#rules = config.rules;
    this.#sources = sources;
    this.#options = options;
    this.#now = options.now ?? Date.now;
    for (const rule of config.rules)
      this.#states.set(rule.name, { pendingSince: undefined, firing: false, last: undefined });
  }

  /** Starts periodic evaluation (unref'd). */
  start(): void {
    this.#timer ??= setInterval(() => {
      this.evaluate().catch((err: unknown) =>
        this.#options.logger.warn({ err }, 'alert evaluation failed'),
      );
    }, this.#options.intervalMs ?? 5000);
    this.#timer.unref();
  }

  /** Stops evaluation and waits for a running pass. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }

  /** Runs one evaluation pass over every rule (passes never overlap). */
  evaluate(): Promise<void> {
    const run = (): Promise<void> => this.#evaluateAll();
    this.#running = this.#running.then(run, run);
    return this.#running;
  }

  /** Alerts firing on this gateway, for the dashboard. */
  active(): ActiveAlert[] {
    const out: ActiveAlert[] = [];
    for (const rule of this.#rules) {
      const state = this.#states.get(rule.name);
      if (state?.firing !== true || state.last === undefined) continue;
      out.push({
        rule: rule.name,
        kind: rule.kind,
        subject: state.last.subject,
        value: state.last.value,
        threshold: state.last.threshold,
        since: state.pendingSince ?? this.#now(),
      });
    }
    return out;
  }

  /**
   * Recent announced state changes, newest first: the shared store's (all gateways) merged with the
   * local store's (redis-down rules, which cannot use Redis).
   */
  async history(): Promise<AlertEvent[]> {
    const { store, localStore } = this.#options;
    const lists = await Promise.all(
      store === localStore ? [store.history()] : [store.history(), localStore.history()],
    );
    return lists
      .flat()
      .sort((a, b) => b.at - a.at)
      .slice(0, ALERT_HISTORY_SIZE);
  }

  async #evaluateAll(): Promise<void> {
    for (const rule of this.#rules) {
      try {
        await this.#evaluateRule(rule, this.#states.get(rule.name) as RuleState);
      } catch (err) {
        // The shared store is unreachable: keep the local state so the change is retried next pass.
        this.#options.logger.warn({ err, rule: rule.name }, 'alert state change failed');
      }
    }
  }

  async #evaluateRule(rule: AlertRule, state: RuleState): Promise<void> {
    const now = this.#now();
    const seen = observe(rule, this.#sources);
    state.last = seen;
    if (seen.breached) state.pendingSince ??= now;
    const shouldFire = seen.breached && now - (state.pendingSince as number) >= rule.for;
    if (shouldFire === state.firing || (!seen.breached && !state.firing)) {
      if (!seen.breached) state.pendingSince = undefined;
      return;
    }
    const next = shouldFire ? 'firing' : 'resolved';
    const store = rule.kind === 'redis-down' ? this.#options.localStore : this.#options.store;
    const announce = await store.transition(rule.name, next);
    const since = state.pendingSince ?? now;
    state.firing = shouldFire;
    if (!seen.breached) state.pendingSince = undefined;
    const fields = {
      rule: rule.name,
      kind: rule.kind,
      subject: seen.subject,
      value: seen.value,
      threshold: seen.threshold,
    };
    if (next === 'firing') this.#options.logger.warn(fields, 'alert firing');
    else this.#options.logger.info(fields, 'alert resolved');
    if (!announce) return;
    store
      .record({ ...fields, state: next, at: now, since })
      .catch((err: unknown) =>
        this.#options.logger.warn({ err, rule: rule.name }, 'alert history append failed'),
      );
    this.#options.webhooks.send({
      status: next,
      ...fields,
      startsAt: new Date(since).toISOString(),
      ...(next === 'resolved' ? { endsAt: new Date(now).toISOString() } : {}),
      gateway: this.#options.gateway,
    });
  }
}
