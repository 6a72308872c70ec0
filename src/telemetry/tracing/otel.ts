/** Starts the OpenTelemetry Node SDK from the standard OTEL_* variables, tracing only, or nothing at all. */
import { trace, propagation, context, ProxyTracerProvider, type Tracer } from '@opentelemetry/api';
import { createRequire } from 'node:module';
import type { NodeSDK as NodeSDKType } from '@opentelemetry/sdk-node';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import {
  SimpleSpanProcessor,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import {
  EncodingSpanProcessor,
  batchLimitsFromEnv,
  otlpHttpProtobufExporter,
} from './otlp-span-processor.js';
import { recorderConfigOf, type RecorderConfig } from './span-recorder.js';

/** The instrumentation scope name of every span edgeway creates. */
export const TRACER_NAME = 'edgeway';

/** What the rest of the gateway holds: whether spans are recorded, the tracer, and the flush-and-stop. */
export interface Tracing {
  /** False when no exporter is configured: no SDK runs and span helpers do (almost) nothing. */
  readonly enabled: boolean;
  /** The SDK's tracer, for spans started outside the request path. */
  readonly tracer: Tracer;
  /** The configuration request spans are recorded with (the SDK tracer's); undefined when not enabled. */
  readonly recorder: RecorderConfig | undefined;
  /** Spans dropped so far because the export queue was full (edgeway's OTLP/protobuf processor; 0 otherwise). */
  droppedSpans(): number;
  /** Exports every ended span now (export waits for async resource detection, so tests call this). */
  flush(): Promise<void>;
  /** Flushes pending spans and unregisters the global providers (so a later start can register again). */
  shutdown(): Promise<void>;
}

/** Options for {@link startTracing}; everything else comes from OTEL_* variables. */
export interface TracingOptions {
  /** Environment to decide from (defaults to process.env; the SDK itself always reads process.env). */
  readonly env?: NodeJS.ProcessEnv;
  /** Export to this exporter synchronously instead of OTLP (tests pass an InMemorySpanExporter). */
  readonly spanExporter?: SpanExporter;
}

const DISABLED: Tracing = Object.freeze({
  enabled: false,
  tracer: trace.getTracer(TRACER_NAME),
  recorder: undefined,
  droppedSpans: () => 0,
  flush: async () => undefined,
  shutdown: async () => undefined,
});

/** The OTEL_TRACES_EXPORTER list (empty when unset). */
function traceExporters(env: NodeJS.ProcessEnv): string[] {
  return (env.OTEL_TRACES_EXPORTER ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/**
 * True when the environment asks for trace export. The SDK's own default (no OTEL_TRACES_EXPORTER means
 * "otlp to localhost:4318") would export into the void on every machine without a collector, so edgeway
 * turns tracing on only when an endpoint or an explicit exporter is named.
 */
export function tracingRequested(env: NodeJS.ProcessEnv): boolean {
  if ((env.OTEL_SDK_DISABLED ?? '').trim().toLowerCase() === 'true') return false;
  const exporters = traceExporters(env);
  if (exporters.includes('none')) return false;
  if (exporters.length > 0) return true;
  return Boolean(
    env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim() || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim(),
  );
}

/**
 * True when the environment's trace exporter is OTLP over http/protobuf alone (the OTLP default), which
 * edgeway sends through its {@link EncodingSpanProcessor}; any other choice is left to the SDK.
 */
export function otlpProtobufOnly(env: NodeJS.ProcessEnv): boolean {
  const exporters = traceExporters(env);
  if (exporters.length > 1 || (exporters.length === 1 && exporters[0] !== 'otlp')) return false;
  // Empty values count as unset, as the SDK reads them.
  const protocol =
    env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL?.trim() || env.OTEL_EXPORTER_OTLP_PROTOCOL?.trim() || '';
  return protocol === '' || protocol === 'http/protobuf';
}

function spanProcessors(
  options: TracingOptions,
  env: NodeJS.ProcessEnv,
): { spanProcessors?: SpanProcessor[] } {
  if (options.spanExporter !== undefined)
    return { spanProcessors: [new SimpleSpanProcessor(options.spanExporter)] };
  if (otlpProtobufOnly(env))
    return {
      spanProcessors: [
        new EncodingSpanProcessor(otlpHttpProtobufExporter(), batchLimitsFromEnv(env)),
      ],
    };
  return {};
}

/**
 * The recorder's configuration; with one processor of edgeway's own, spans go to it directly rather than
 * through the provider's fan-out (a loop and an `onEnding` probe per span).
 */
function recorderConfig(tracer: unknown, processors: SpanProcessor[] | undefined): RecorderConfig {
  const config = recorderConfigOf(tracer);
  const only = processors?.length === 1 ? processors[0] : undefined;
  return only instanceof EncodingSpanProcessor ? { ...config, processor: only } : config;
}

/**
 * Starts tracing. Protocol (http/protobuf, http/json), sampler, resource attributes and batching follow
 * OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL, OTEL_TRACES_SAMPLER[_ARG], OTEL_RESOURCE_ATTRIBUTES and
 * OTEL_BSP_*; the service name is OTEL_SERVICE_NAME, else `edgeway`. No auto-instrumentation: the
 * pipeline creates its spans itself. Metrics and logs stay off (Prometheus serves metrics).
 */
export function startTracing(options: TracingOptions = {}): Tracing {
  const env = options.env ?? process.env;
  if (options.spanExporter === undefined && !tracingRequested(env)) return DISABLED;
  // Loaded only when tracing is on: the SDK and its exporters add ~27 MB of RSS to a gateway that never uses them.
  const { NodeSDK } = createRequire(import.meta.url)('@opentelemetry/sdk-node') as {
    NodeSDK: typeof NodeSDKType;
  };
  const processors = spanProcessors(options, env);
  const sdk = new NodeSDK({
    // Detected env attributes (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES) merge over this default.
    resource: defaultResource().merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: TRACER_NAME })),
    instrumentations: [],
    // Spans get their parent context passed explicitly, so no async-hooks context manager is needed; the SDK's
    // default one hooks every promise in the process and cost ~10% of the proxy path with tracing on.
    contextManager: null as unknown as undefined,
    metricReaders: [],
    logRecordProcessors: [],
    ...processors,
  });
  sdk.start();
  const tracer = trace.getTracer(TRACER_NAME);
  const provider = trace.getTracerProvider();
  const sdkProvider = provider instanceof ProxyTracerProvider ? provider.getDelegate() : provider;
  let stopped: Promise<void> | undefined;
  return {
    enabled: true,
    tracer,
    recorder: recorderConfig(sdkProvider.getTracer(TRACER_NAME), processors.spanProcessors),
    droppedSpans: () => {
      let dropped = 0;
      for (const processor of processors.spanProcessors ?? [])
        if (processor instanceof EncodingSpanProcessor) dropped += processor.dropped;
      return dropped;
    },
    flush: async () => {
      await (sdkProvider as { forceFlush?: () => Promise<void> }).forceFlush?.();
    },
    shutdown: () => {
      stopped ??= sdk.shutdown().finally(() => {
        trace.disable();
        propagation.disable();
        context.disable();
      });
      return stopped;
    },
  };
}
