/** The plugins stage: a route's plugins in their listed order, after auth and rate limiting, each isolated and timed. */
import type { IncomingHttpHeaders } from 'node:http';
import { GatewayError } from '../errors.js';
import type { RequestContext, ResponseHook, Stage } from '../request/context.js';
import type { SpanFactory, StageName } from '../telemetry/tracing/spans.js';
import type { LoadedPlugin } from './load.js';
import { RequestView, ResponseView } from './views.js';

/**
 * What went wrong with a plugin call (the `reason` label of edgeway_plugin_errors_total): it threw
 * (`error`), or it took longer than the timeout (`timeout`); either way the request is answered 500.
 */
type PluginFailure = 'error' | 'timeout';

/** What the stage is built from, shared by every route. */
export interface PluginStageDeps {
  readonly spans: SpanFactory;
  /** `gateway.pluginTimeout`, ms. */
  readonly timeoutMs: number;
  /** Logs and counts a failed call (the client gets 500 `internal_error`). */
  readonly onFailure: (plugin: string, route: string, reason: PluginFailure, err: unknown) => void;
}

/** Rejects a hook's promise that outlives the timeout with this, to tell it from the hook's own errors. */
const TIMED_OUT = new Error('plugin hook timed out');

function timed(pending: Promise<void>, ms: number): Promise<void> {
  return new Promise<void>((settle, fail) => {
    const timer = setTimeout(() => fail(TIMED_OUT), ms);
    pending.then(
      () => {
        clearTimeout(timer);
        settle();
      },
      (err: unknown) => {
        clearTimeout(timer);
        fail(err);
      },
    );
  });
}

/** One plugin's hooks bound to everything they need, built once per route. */
class PluginCall {
  readonly span: StageName;
  readonly #plugin: LoadedPlugin;
  readonly #route: string;
  readonly #deps: PluginStageDeps;

  constructor(plugin: LoadedPlugin, route: string, deps: PluginStageDeps) {
    this.span = `edgeway.plugin ${plugin.name}`;
    this.#plugin = plugin;
    this.#route = route;
    this.#deps = deps;
  }

  /** The `onRequest` call as a stage; the view is the one allocation per call. */
  readonly request: Stage = (ctx) => {
    const view = new RequestView(ctx);
    const started = performance.now();
    let result: void | Promise<void>;
    try {
      result = this.#plugin.instance.onRequest?.(view);
    } catch (err) {
      throw this.#failure(err, view, 'error');
    }
    return this.#after(result, started, view);
  };

  respond(status: number, headers: IncomingHttpHeaders): void | Promise<void> {
    const view = new ResponseView(status, headers);
    const started = performance.now();
    let result: void | Promise<void>;
    try {
      result = this.#plugin.instance.onResponse?.(view);
    } catch (err) {
      throw this.#failure(err, undefined, 'error');
    }
    return this.#after(result, started, undefined);
  }

  /**
   * A returned promise races a timer; a plain return is not awaited (no promise, no timer). A synchronous
   * hook cannot be interrupted, so its time is checked when it returns: past the timeout its request is
   * answered 500 as SPEC says, which makes a hook that blocks the event loop visible to its author at once.
   */
  #after(
    result: void | Promise<void>,
    started: number,
    view: RequestView | undefined,
  ): void | Promise<void> {
    if (result instanceof Promise) {
      return timed(result, this.#deps.timeoutMs).then(
        () => this.#settled(view),
        (err: unknown) => {
          throw this.#failure(err, view, err === TIMED_OUT ? 'timeout' : 'error');
        },
      );
    }
    const elapsed = performance.now() - started;
    if (elapsed > this.#deps.timeoutMs)
      throw this.#failure(
        new Error(`synchronous hook ran ${Math.round(elapsed)} ms`),
        view,
        'timeout',
      );
    return this.#settled(view);
  }

  #settled(view: RequestView | undefined): void {
    if (view?.rejection !== undefined) throw view.rejection;
  }

  #failure(err: unknown, view: RequestView | undefined, reason: PluginFailure): GatewayError {
    // A timeout wins over a late reject: the answer was already due.
    if (reason === 'error' && view?.rejection !== undefined) return view.rejection;
    this.#deps.onFailure(this.#plugin.name, this.#route, reason, err);
    const what = reason === 'timeout' ? `took longer than ${this.#deps.timeoutMs} ms` : 'failed';
    return new GatewayError('internal_error', `plugin "${this.#plugin.name}" ${what}`, [], {
      cause: err,
    });
  }
}

/** Runs `calls[from..]` in order, awaiting only calls that returned a promise. */
function runFrom(
  calls: readonly PluginCall[],
  from: number,
  ctx: RequestContext,
  spans: SpanFactory,
): void | Promise<void> {
  for (let i = from; i < calls.length; i++) {
    const call = calls[i] as PluginCall;
    const result = spans.runStage(call.span, call.request, ctx);
    if (result instanceof Promise) return result.then(() => runFrom(calls, i + 1, ctx, spans));
  }
  return undefined;
}

function respondFrom(
  calls: readonly PluginCall[],
  from: number,
  status: number,
  headers: IncomingHttpHeaders,
): void | Promise<void> {
  for (let i = from; i < calls.length; i++) {
    const result = (calls[i] as PluginCall).respond(status, headers);
    if (result instanceof Promise)
      return result.then(() => respondFrom(calls, i + 1, status, headers));
  }
  return undefined;
}

/** The stage for a route's plugins, or undefined when it lists none. */
export function buildPluginStage(
  route: string,
  plugins: readonly LoadedPlugin[],
  deps: PluginStageDeps,
): Stage | undefined {
  if (plugins.length === 0) return undefined;
  const requestCalls = plugins
    .filter((p) => p.instance.onRequest !== undefined)
    .map((p) => new PluginCall(p, route, deps));
  const responseCalls = plugins
    .filter((p) => p.instance.onResponse !== undefined)
    .map((p) => new PluginCall(p, route, deps));
  const responseHook: ResponseHook | undefined =
    responseCalls.length === 0
      ? undefined
      : (_ctx, status, headers) => respondFrom(responseCalls, 0, status, headers);
  const { spans } = deps;
  return function plugins(ctx) {
    if (responseHook !== undefined) ctx.responseHook = responseHook;
    return runFrom(requestCalls, 0, ctx, spans);
  };
}
