/**
 * A lean span recorder: the SDK's configuration (sampler, span limits, resource, instrumentation scope and
 * span processors, all as the NodeSDK built them from OTEL_* variables), without the SDK's `Tracer` and
 * `Span` classes on the request path. An unsampled span is a context and nothing else; a sampled one is a
 * {@link LeanSpan} with the SDK span's semantics that the processors read as any `ReadableSpan`.
 */
import {
  SamplingDecision,
  SpanStatusCode,
  TraceFlags,
  diag,
  trace,
  type Attributes,
  type AttributeValue,
  type Context,
  type Exception,
  type HrTime,
  type Link,
  type Span,
  type SpanContext,
  type SpanKind,
  type SpanStatus,
  type TimeInput,
} from '@opentelemetry/api';
import {
  addHrTimes,
  hrTime,
  hrTimeDuration,
  isAttributeValue,
  isTimeInput,
  isTimeInputHrTime,
  millisToHrTime,
  sanitizeAttributes,
  type InstrumentationScope,
} from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  type ReadableSpan,
  type Sampler,
  type SpanLimits,
  type SpanProcessor,
  type TimedEvent,
} from '@opentelemetry/sdk-trace-base';
import {
  ATTR_EXCEPTION_MESSAGE,
  ATTR_EXCEPTION_STACKTRACE,
  ATTR_EXCEPTION_TYPE,
} from '@opentelemetry/semantic-conventions';

/** What the recorder takes from the SDK's tracer: everything the OTEL_* variables configure about spans. */
export interface RecorderConfig {
  readonly sampler: Sampler;
  readonly spanLimits: SpanLimits;
  readonly resource: Resource;
  readonly scope: InstrumentationScope;
  /** The provider's span processors (one processor that fans out to all of them). */
  readonly processor: SpanProcessor;
}

/** The fields of the SDK 2.x `Tracer` the recorder reads (private in its types, plain fields at runtime). */
interface SdkTracerFields {
  readonly _sampler?: Sampler;
  readonly _spanLimits?: SpanLimits;
  readonly _resource?: Resource;
  readonly instrumentationScope?: InstrumentationScope;
  readonly _spanProcessor?: SpanProcessor;
}

/**
 * Reads the recorder's configuration from the SDK tracer `getTracer` returned. Throws when the SDK no longer
 * has these fields, so that an SDK upgrade that moves them fails at startup rather than tracing differently.
 */
export function recorderConfigOf(tracer: unknown): RecorderConfig {
  const t = tracer as SdkTracerFields;
  if (
    t._sampler === undefined ||
    t._spanLimits === undefined ||
    t._resource === undefined ||
    t.instrumentationScope === undefined ||
    t._spanProcessor === undefined
  )
    throw new Error('edgeway: unsupported OpenTelemetry SDK version (its Tracer fields changed)');
  return {
    sampler: t._sampler,
    spanLimits: t._spanLimits,
    resource: t._resource,
    scope: t.instrumentationScope,
    processor: t._spanProcessor,
  };
}

/** Returns `bytes` random bytes as lowercase hex, never all zeros. */
export type RandomId = (bytes: 8 | 16) => string;

const UNSET: SpanStatus = Object.freeze({ code: SpanStatusCode.UNSET });
// Shared by every span until its first event or link (most have none).
const NONE = Object.freeze([]) as never[];
const EXCEPTION_EVENT = 'exception';
// Fixed for the life of the process; its getter is a native call per span.
const TIME_ORIGIN = performance.timeOrigin;

function isDigit(code: number): boolean {
  return code >= 48 && code <= 57;
}

/**
 * True when `sampler` decides NOT_RECORD for every child of an unsampled local span, as each sampler
 * OTEL_TRACES_SAMPLER names does: always_off; traceidratio (the parent's decision, made by this sampler on
 * the same trace id); the parentbased_* ones (their local-parent-not-sampled sampler is always_off). An
 * always_on parent is never unsampled. Any other sampler is asked for every span.
 */
function unsampledParentDecides(sampler: Sampler): boolean {
  if (sampler instanceof AlwaysOffSampler || sampler instanceof TraceIdRatioBasedSampler)
    return true;
  return (
    sampler instanceof ParentBasedSampler &&
    sampler.toString().endsWith('localParentNotSampled=AlwaysOffSampler}')
  );
}

/**
 * True when `sampler` decides RECORD_AND_SAMPLED, with no attributes and no trace state of its own, for
 * every child of a sampled local span: always_on; traceidratio (the parent's decision, made by this sampler
 * on the same trace id); the parentbased_* ones (their local-parent-sampled sampler is always_on). Under
 * parentbased_* the SDK would look for the parent and check its ids with regular expressions, per span.
 */
function sampledParentDecides(sampler: Sampler): boolean {
  if (sampler instanceof AlwaysOnSampler || sampler instanceof TraceIdRatioBasedSampler)
    return true;
  return (
    sampler instanceof ParentBasedSampler &&
    sampler.toString().includes(', localParentSampled=AlwaysOnSampler,')
  );
}

/** The fields of the SDK 2.x ratio sampler and parent-based sampler that decide a root span. */
interface RatioFields {
  readonly _root?: unknown;
  readonly _upperBound?: unknown;
  readonly _accumulate?: unknown;
}

/**
 * For traceidratio and parentbased_traceidratio: whether a root span of `traceId` is sampled, as the ratio
 * sampler decides it (its own accumulation of the id against its own bound), without the checks that cannot
 * fail here: a root span has no parent to look for, and the recorder's ids are valid, which the sampler
 * checks with a case-insensitive regular expression (the largest item of an unsampled request's profile).
 * Undefined for other samplers, or when the SDK no longer has these fields (the sampler is then asked).
 */
function rootRatio(sampler: Sampler): ((traceId: string) => boolean) | undefined {
  const root: unknown =
    sampler instanceof ParentBasedSampler ? (sampler as unknown as RatioFields)._root : sampler;
  if (!(root instanceof TraceIdRatioBasedSampler)) return undefined;
  const fields = root as unknown as RatioFields;
  const bound = fields._upperBound;
  if (typeof fields._accumulate !== 'function' || typeof bound !== 'number') return undefined;
  const accumulate = fields._accumulate as (traceId: string) => number;
  return (traceId) => accumulate.call(root, traceId) < bound;
}

// The API's own key (createContextKey is Symbol.for), so trace.getSpan reads the span from either context.
const SPAN_KEY = Symbol.for('OpenTelemetry Context Key SPAN');

/**
 * `parent` with `span` as its span, what `trace.setSpan` returns, in one small object: the API's context
 * copies a Map and makes three closures, per request.
 */
class SpanInContext implements Context {
  readonly #parent: Context;
  readonly #span: Span;

  constructor(parent: Context, span: Span) {
    this.#parent = parent;
    this.#span = span;
  }

  getValue(key: symbol): unknown {
    return key === SPAN_KEY ? this.#span : this.#parent.getValue(key);
  }

  setValue(key: symbol, value: unknown): Context {
    return this.#parent.setValue(SPAN_KEY, this.#span).setValue(key, value);
  }

  deleteValue(key: symbol): Context {
    return this.#parent.setValue(SPAN_KEY, this.#span).deleteValue(key);
  }
}

/** `parent` with `span` as its span (as `trace.setSpan(parent, span)`). */
export function contextWithSpan(parent: Context, span: Span): Context {
  return new SpanInContext(parent, span);
}

/** Starts spans the way the SDK's `Tracer.startSpan` does, from an explicit parent context. */
export class SpanRecorder {
  readonly #config: RecorderConfig;
  readonly #random: RandomId;
  readonly #limits: SpanLimits;
  readonly #unsampledParentDecides: boolean;
  readonly #sampledParentDecides: boolean;
  readonly #rootSampled: ((traceId: string) => boolean) | undefined;

  constructor(config: RecorderConfig, random: RandomId) {
    this.#config = config;
    this.#random = random;
    this.#limits = config.spanLimits;
    this.#unsampledParentDecides = unsampledParentDecides(config.sampler);
    this.#sampledParentDecides = sampledParentDecides(config.sampler);
    this.#rootSampled = rootRatio(config.sampler);
  }

  /**
   * Starts a child of `parentSpan`, a span of this request that this recorder started (so valid). Under a
   * sampler whose decision for a child of a local span is known (the parent's), the child gets it without
   * asking the sampler: an unsampled child is its context alone, and the id checks the sampler would make
   * (case-insensitive regular expressions, ~0.4 µs each) were most of what an unsampled request cost.
   */
  startChild(name: string, kind: SpanKind, parent: Context, parentSpan: SpanContext): Span {
    const sampled = (parentSpan.traceFlags & TraceFlags.SAMPLED) !== 0;
    if (sampled ? !this.#sampledParentDecides : !this.#unsampledParentDecides)
      return this.start(name, kind, parent, parentSpan);
    const context: SpanContext = {
      traceId: parentSpan.traceId,
      spanId: this.#random(8),
      traceFlags: sampled ? TraceFlags.SAMPLED : TraceFlags.NONE,
      traceState: parentSpan.traceState,
    };
    return sampled
      ? this.#record(name, kind, parent, context, parentSpan)
      : trace.wrapSpanContext(context);
  }

  /**
   * Starts span `name` under `parentSpan`, the span in `parent` (a root span when there is none; the caller
   * has checked it valid, which the SDK checks here with regular expressions on every span): the configured
   * sampler decides with no attributes and no links, as edgeway starts every span. An unsampled span is the
   * API's non-recording span carrying the new context, so that it still propagates.
   */
  start(name: string, kind: SpanKind, parent: Context, parentSpan: SpanContext | undefined): Span {
    const traceId = parentSpan === undefined ? this.#random(16) : parentSpan.traceId;
    const spanId = this.#random(8);
    const rootSampled = parentSpan === undefined ? this.#rootSampled : undefined;
    if (rootSampled !== undefined) {
      const sampled = rootSampled(traceId);
      const context: SpanContext = {
        traceId,
        spanId,
        traceFlags: sampled ? TraceFlags.SAMPLED : TraceFlags.NONE,
        traceState: undefined,
      };
      return sampled
        ? this.#record(name, kind, parent, context, undefined)
        : trace.wrapSpanContext(context);
    }
    const result = this.#config.sampler.shouldSample(parent, traceId, name, kind, {}, []);
    const traceState = result.traceState ?? parentSpan?.traceState;
    const context: SpanContext = {
      traceId,
      spanId,
      traceFlags:
        result.decision === SamplingDecision.RECORD_AND_SAMPLED
          ? TraceFlags.SAMPLED
          : TraceFlags.NONE,
      traceState,
    };
    if (result.decision === SamplingDecision.NOT_RECORD) return trace.wrapSpanContext(context);
    return this.#record(name, kind, parent, context, parentSpan, result.attributes);
  }

  /** A recording span, with the sampler's attributes if it gave any, started on the processors. */
  #record(
    name: string,
    kind: SpanKind,
    parent: Context,
    context: SpanContext,
    parentSpan: SpanContext | undefined,
    attributes?: Attributes,
  ): LeanSpan {
    const span = new LeanSpan(this.#config, this.#limits, name, kind, context, parentSpan);
    if (attributes !== undefined) span.setAttributes(sanitizeAttributes(attributes));
    this.#config.processor.onStart(span, parent);
    return span;
  }
}

/** A recording span: the SDK `SpanImpl`'s behaviour (limits, truncation, status rules, warnings), read as a `ReadableSpan`. */
export class LeanSpan implements Span, ReadableSpan {
  name: string;
  readonly kind: SpanKind;
  readonly parentSpanContext: SpanContext | undefined;
  links: Link[] = NONE;
  events: TimedEvent[] = NONE;
  readonly startTime: HrTime;
  endTime: HrTime = [0, 0];
  status: SpanStatus = UNSET;
  readonly resource: Resource;
  readonly instrumentationScope: InstrumentationScope;
  droppedAttributesCount = 0;
  droppedEventsCount = 0;
  droppedLinksCount = 0;
  ended = false;
  duration: HrTime = [-1, -1];
  readonly #context: SpanContext;
  readonly #processor: SpanProcessor;
  readonly #limits: SpanLimits;
  /** performance.now() at start, and what turns a performance timestamp into wall-clock milliseconds. */
  readonly #startMs: number;
  readonly #offsetMs: number;
  /**
   * Attributes in the order first set, while no one has asked for them as an object: a key set one by one
   * on an object goes through a megamorphic store (`setAttribute` led the profile of a sampled request),
   * and the encoder reads the lists as they are. Undefined once {@link attributes} made the object.
   */
  #keys: string[] | undefined = [];
  #values: AttributeValue[] = [];
  #object: Attributes | undefined;
  #attributeCount = 0;

  constructor(
    config: RecorderConfig,
    limits: SpanLimits,
    name: string,
    kind: SpanKind,
    context: SpanContext,
    parent: SpanContext | undefined,
  ) {
    // The SDK's clock: the wall clock at start, then the monotonic clock for everything after it.
    const now = Date.now();
    this.#startMs = performance.now();
    this.#offsetMs = now - (this.#startMs + TIME_ORIGIN);
    this.startTime = millisToHrTime(now);
    this.name = name;
    this.kind = kind;
    this.#context = context;
    this.parentSpanContext = parent;
    this.resource = config.resource;
    this.instrumentationScope = config.scope;
    this.#processor = config.processor;
    this.#limits = limits;
  }

  spanContext(): SpanContext {
    return this.#context;
  }

  isRecording(): boolean {
    return !this.ended;
  }

  setAttribute(key: string, value: AttributeValue): this {
    if (value == null || this.#isEnded()) return this;
    if (key.length === 0) {
      diag.warn(`Invalid attribute key: ${key}`);
      return this;
    }
    const type = typeof value;
    if (type !== 'string' && type !== 'number' && type !== 'boolean' && !isAttributeValue(value)) {
      diag.warn(`Invalid attribute value set for key: ${key}`);
      return this;
    }
    const keys = this.#keys;
    // An index-like key comes first in an object's key order, and __proto__ is no own key of one: the
    // object decides both, as it does in the SDK's span.
    if (keys === undefined || key === '__proto__' || isDigit(key.charCodeAt(0)))
      return this.#setInObject(key, value);
    const limit = this.#limits.attributeCountLimit;
    const index = keys.indexOf(key);
    if (index !== -1) {
      this.#values[index] = this.#truncate(value);
    } else if (limit !== undefined && keys.length >= limit) {
      this.droppedAttributesCount++;
    } else {
      keys.push(key);
      this.#values.push(this.#truncate(value));
    }
    return this;
  }

  #setInObject(key: string, value: AttributeValue): this {
    const attributes = this.attributes;
    const limit = this.#limits.attributeCountLimit;
    const isNewKey = !Object.hasOwn(attributes, key);
    if (limit !== undefined && this.#attributeCount >= limit && isNewKey) {
      this.droppedAttributesCount++;
      return this;
    }
    attributes[key] = this.#truncate(value);
    if (isNewKey) this.#attributeCount++;
    return this;
  }

  /** The attributes as the SDK span holds them: one object, from here on the span's only copy. */
  get attributes(): Attributes {
    if (this.#object !== undefined) return this.#object;
    const keys = this.#keys as string[];
    const object: Attributes = {};
    for (let i = 0; i < keys.length; i++) object[keys[i] as string] = this.#values[i];
    this.#attributeCount = keys.length;
    this.#object = object;
    this.#keys = undefined;
    this.#values = NONE;
    return object;
  }

  /** Attribute keys in the order first set, with {@link attributeValues}; undefined once read as an object. */
  get attributeKeys(): readonly string[] | undefined {
    return this.#keys;
  }

  get attributeValues(): readonly AttributeValue[] {
    return this.#values;
  }

  setAttributes(attributes: Attributes): this {
    for (const key in attributes) {
      if (Object.hasOwn(attributes, key)) this.setAttribute(key, attributes[key] as AttributeValue);
    }
    return this;
  }

  addEvent(name: string, attributesOrTime?: Attributes | TimeInput, time?: TimeInput): this {
    if (this.#isEnded()) return this;
    const { eventCountLimit, attributePerEventCountLimit } = this.#limits;
    if (eventCountLimit === 0) {
      diag.warn('No events allowed.');
      this.droppedEventsCount++;
      return this;
    }
    if (this.events === NONE) this.events = [];
    if (eventCountLimit !== undefined && this.events.length >= eventCountLimit) {
      if (this.droppedEventsCount === 0) diag.debug('Dropping extra events.');
      this.events.shift();
      this.droppedEventsCount++;
    }
    let given: Attributes | undefined;
    if (isTimeInput(attributesOrTime)) {
      if (!isTimeInput(time)) time = attributesOrTime;
    } else {
      given = attributesOrTime;
    }
    const { attributes, dropped } = this.#limited(given, attributePerEventCountLimit);
    this.events.push({
      name,
      attributes,
      time: this.#time(time),
      droppedAttributesCount: dropped,
    });
    return this;
  }

  addLink(link: Link): this {
    if (this.#isEnded()) return this;
    const { linkCountLimit, attributePerLinkCountLimit } = this.#limits;
    if (linkCountLimit === 0) {
      this.droppedLinksCount++;
      return this;
    }
    if (this.links === NONE) this.links = [];
    if (linkCountLimit !== undefined && this.links.length >= linkCountLimit) {
      if (this.droppedLinksCount === 0) diag.debug('Dropping extra links.');
      this.links.shift();
      this.droppedLinksCount++;
    }
    const { attributes, dropped } = this.#limited(link.attributes, attributePerLinkCountLimit);
    const kept: { context: SpanContext; attributes?: Attributes; droppedAttributesCount?: number } =
      { context: link.context };
    if (Object.keys(attributes).length > 0) kept.attributes = attributes;
    if (dropped > 0) kept.droppedAttributesCount = dropped;
    this.links.push(kept);
    return this;
  }

  addLinks(links: Link[]): this {
    for (const link of links) this.addLink(link);
    return this;
  }

  setStatus(status: SpanStatus): this {
    if (this.#isEnded()) return this;
    if (status.code === SpanStatusCode.UNSET || this.status.code === SpanStatusCode.OK) return this;
    const next: SpanStatus = { code: status.code };
    if (status.code === SpanStatusCode.ERROR) {
      if (typeof status.message === 'string') next.message = status.message;
      else if (status.message != null)
        diag.warn(
          `Dropping invalid status.message of type '${typeof status.message}', expected 'string'`,
        );
    }
    this.status = next;
    return this;
  }

  updateName(name: string): this {
    if (!this.#isEnded()) this.name = name;
    return this;
  }

  end(endTime?: TimeInput): void {
    if (this.#isEnded()) {
      diag.error(
        `${this.name} ${this.#context.traceId}-${this.#context.spanId} - You can only call end() on a span once.`,
      );
      return;
    }
    this.endTime = this.#time(endTime);
    this.duration = hrTimeDuration(this.startTime, this.endTime);
    if (this.duration[0] < 0) {
      diag.warn(
        'Inconsistent start and end time, startTime > endTime. Setting span duration to 0ms.',
        this.startTime,
        this.endTime,
      );
      this.endTime = this.startTime.slice() as HrTime;
      this.duration = [0, 0];
    }
    if (this.droppedEventsCount > 0)
      diag.warn(`Dropped ${this.droppedEventsCount} events because eventCountLimit reached`);
    if (this.droppedLinksCount > 0)
      diag.warn(`Dropped ${this.droppedLinksCount} links because linkCountLimit reached`);
    this.#processor.onEnding?.(this);
    this.ended = true;
    this.#processor.onEnd(this);
  }

  recordException(exception: Exception, time?: TimeInput): void {
    const attributes: Attributes = {};
    if (typeof exception === 'string') {
      attributes[ATTR_EXCEPTION_MESSAGE] = exception;
    } else if (exception) {
      if (exception.code) attributes[ATTR_EXCEPTION_TYPE] = exception.code.toString();
      else if (exception.name) attributes[ATTR_EXCEPTION_TYPE] = exception.name;
      if (exception.message) attributes[ATTR_EXCEPTION_MESSAGE] = exception.message;
      if (exception.stack) attributes[ATTR_EXCEPTION_STACKTRACE] = exception.stack;
    }
    if (attributes[ATTR_EXCEPTION_TYPE] || attributes[ATTR_EXCEPTION_MESSAGE])
      this.addEvent(EXCEPTION_EVENT, attributes, time);
    else diag.warn(`Failed to record an exception ${String(exception)}`);
  }

  /** The SDK's warning on any change to an ended span. */
  #isEnded(): boolean {
    if (this.ended) {
      const { traceId, spanId } = this.#context;
      diag.warn(
        `Cannot execute the operation on ended Span {traceId: ${traceId}, spanId: ${spanId}}`,
        new Error(`Operation attempted on ended Span {traceId: ${traceId}, spanId: ${spanId}}`),
      );
    }
    return this.ended;
  }

  /** An event's or link's attributes, sanitised, truncated and capped at `limit`. */
  #limited(
    given: Attributes | undefined,
    limit: number | undefined,
  ): { attributes: Attributes; dropped: number } {
    const sanitized = sanitizeAttributes(given);
    const attributes: Attributes = {};
    let dropped = 0;
    let count = 0;
    for (const key in sanitized) {
      if (!Object.hasOwn(sanitized, key)) continue;
      if (limit !== undefined && count >= limit) {
        dropped++;
        continue;
      }
      attributes[key] = this.#truncate(sanitized[key] as AttributeValue);
      count++;
    }
    return { attributes, dropped };
  }

  #truncate(value: AttributeValue): AttributeValue {
    const limit = this.#limits.attributeValueLengthLimit ?? 0;
    if (limit <= 0) {
      diag.warn(`Attribute value limit must be positive, got ${limit}`);
      return value;
    }
    if (typeof value === 'string') return value.length <= limit ? value : value.slice(0, limit);
    if (Array.isArray(value))
      return value.map((v: unknown) =>
        typeof v === 'string' && v.length > limit ? v.slice(0, limit) : v,
      ) as AttributeValue;
    return value;
  }

  /** The SDK span's `_getTime` for a span whose start time was not given. */
  #time(input: TimeInput | undefined): HrTime {
    const now = performance.now();
    if (typeof input === 'number' && input <= now) return hrTime(input + this.#offsetMs);
    if (typeof input === 'number') return millisToHrTime(input);
    if (input instanceof Date) return millisToHrTime(input.getTime());
    if (input !== undefined && isTimeInputHrTime(input)) return input;
    return addHrTimes(this.startTime, millisToHrTime(now - this.#startMs));
  }
}
