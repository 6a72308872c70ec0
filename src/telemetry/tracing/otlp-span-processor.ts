/**
 * A batching span processor for OTLP over http/protobuf that encodes spans as they end (a few dozen at a time). The
 * SDK's BatchSpanProcessor holds up to a batch of live span objects until export; at gateway request
 * rates they outlive young-generation collections and get promoted, which cost more than creating them.
 * Here a pending batch is bytes, and OpenTelemetry's own OTLP/HTTP export delegate sends it (endpoint,
 * headers, timeout, compression and retries from the standard OTEL_EXPORTER_OTLP_* variables).
 */
import { TraceFlags, diag, type Context } from '@opentelemetry/api';
import { ExportResultCode, globalErrorHandler, type ExportResult } from '@opentelemetry/core';
import { createRequire } from 'node:module';
import type * as NodeHttpExport from '@opentelemetry/otlp-exporter-base/node-http';
import type * as Transformer from '@opentelemetry/otlp-transformer';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { SpanBatch } from './otlp-span-encoder.js';

// Measured: 32 beat encoding each span at once (+3% requests per CPU) and 128 (held spans got promoted).
const ENCODE_CHUNK = 32;

/** An encoded ExportTraceServiceRequest and how many spans it carries. */
export interface EncodedSpans {
  readonly bytes: Uint8Array;
  readonly count: number;
}

/** Where encoded batches go: OpenTelemetry's export delegate, or anything with the same contract. */
export interface EncodedSpanExporter {
  export(batch: EncodedSpans, done: (result: ExportResult) => void): void;
  shutdown(): Promise<void>;
}

/** Batching limits, with the meaning and defaults of the SDK's OTEL_BSP_* variables. */
export interface BatchLimits {
  /** Spans per export request (OTEL_BSP_MAX_EXPORT_BATCH_SIZE, 512). */
  readonly maxExportBatchSize: number;
  /** Spans held at once, encoded or being sent; more are dropped (OTEL_BSP_MAX_QUEUE_SIZE, 2048). */
  readonly maxQueueSize: number;
  /** Longest wait before a partial batch is sent (OTEL_BSP_SCHEDULE_DELAY, 5000 ms). */
  readonly scheduledDelayMillis: number;
}

function positiveInt(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const value = Number(env[name]?.trim());
  return Number.isInteger(value) && value > 0 ? value : fallback;
}

/** Reads OTEL_BSP_* as the SDK does: invalid values fall back to the defaults, a batch never exceeds the queue. */
export function batchLimitsFromEnv(env: NodeJS.ProcessEnv): BatchLimits {
  const maxQueueSize = positiveInt(env, 'OTEL_BSP_MAX_QUEUE_SIZE', 2048);
  return {
    maxQueueSize,
    maxExportBatchSize: Math.min(
      positiveInt(env, 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE', 512),
      maxQueueSize,
    ),
    scheduledDelayMillis: positiveInt(env, 'OTEL_BSP_SCHEDULE_DELAY', 5000),
  };
}

/** OpenTelemetry's OTLP/HTTP trace export delegate, sending already-encoded protobuf requests. */
export function otlpHttpProtobufExporter(): EncodedSpanExporter {
  // Loaded only when tracing is on, like the SDK itself (see otel.ts).
  const load = createRequire(import.meta.url);
  const { createOtlpHttpExportDelegate, convertLegacyHttpOptions } = load(
    '@opentelemetry/otlp-exporter-base/node-http',
  ) as typeof NodeHttpExport;
  const { ProtobufTraceSerializer } = load('@opentelemetry/otlp-transformer') as typeof Transformer;
  return createOtlpHttpExportDelegate(
    convertLegacyHttpOptions({}, 'TRACES', 'v1/traces', {
      'Content-Type': 'application/x-protobuf',
    }),
    {
      serializeRequest: (batch: EncodedSpans) => batch.bytes,
      deserializeResponse: (data: Uint8Array) => ProtobufTraceSerializer.deserializeResponse(data),
    },
    'otlp_http_span_exporter',
    { name: 'span', countItems: (batch: EncodedSpans) => batch.count },
    undefined,
  );
}

/** Encodes sampled spans as they end and exports them in batches; see the module comment for why. */
export class EncodingSpanProcessor implements SpanProcessor {
  readonly #exporter: EncodedSpanExporter;
  readonly #limits: BatchLimits;
  #batch = new SpanBatch();
  /** Ended spans not yet encoded: encoding a few dozen at once runs hot in the CPU caches, and spans held that briefly still die young. */
  readonly #ended: ReadableSpan[] = [];
  /** Cleared batches kept for reuse (one, or two while a resource's attributes are still being detected). */
  readonly #spare: SpanBatch[] = [];
  /** Spans in the open batch plus spans being sent. */
  #held = 0;
  #dropped = 0;
  #timer: NodeJS.Timeout | undefined;
  readonly #sending = new Set<Promise<void>>();
  #stopped: Promise<void> | undefined;

  constructor(exporter: EncodedSpanExporter, limits: BatchLimits) {
    this.#exporter = exporter;
    this.#limits = limits;
  }

  /** Spans dropped so far: maxQueueSize spans were already held, or the span could not be encoded. */
  get dropped(): number {
    return this.#dropped;
  }

  onStart(_span: Span, _parentContext: Context): void {}

  onEnd(span: ReadableSpan): void {
    if (this.#stopped !== undefined || (span.spanContext().traceFlags & TraceFlags.SAMPLED) === 0)
      return;
    if (this.#held >= this.#limits.maxQueueSize) {
      if (this.#dropped++ === 0)
        diag.warn(
          `edgeway: span export queue full (${this.#limits.maxQueueSize} spans), dropping spans`,
        );
      return;
    }
    this.#ended.push(span);
    this.#held++;
    if (this.#ended.length >= ENCODE_CHUNK) this.#encodeEnded();
    if (this.#batch.count + this.#ended.length >= this.#limits.maxExportBatchSize) {
      void this.#send();
    } else if (this.#timer === undefined) {
      this.#timer = setTimeout(() => void this.#send(), this.#limits.scheduledDelayMillis);
      this.#timer.unref();
    }
  }

  /** Moves the ended spans into the open batch as bytes. */
  #encodeEnded(): void {
    const ended = this.#ended.splice(0);
    for (const span of ended) {
      try {
        this.#batch.add(span);
      } catch (err) {
        // One span the encoder cannot take (an SDK-invalid value) is lost alone, never the batch or the caller.
        this.#held--;
        this.#dropped++;
        globalErrorHandler(err as Error);
      }
    }
  }

  /** Sends the open batch; resolves when the exporter has answered (success or not; failures go to the error handler). */
  #send(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#encodeEnded();
    const batch = this.#batch;
    if (batch.count === 0) return Promise.resolve();
    this.#batch = this.#spare.pop() ?? new SpanBatch();
    const count = batch.count;
    const sent = batch
      .resourcesReady()
      .then(() => {
        const bytes = batch.encode();
        batch.clear();
        if (this.#spare.length < 2) this.#spare.push(batch);
        return new Promise<ExportResult>((resolve) =>
          this.#exporter.export({ bytes, count }, resolve),
        );
      })
      .then(
        (result) => {
          if (result.code !== ExportResultCode.SUCCESS)
            globalErrorHandler(result.error ?? new Error(`span export failed (${count} spans)`));
        },
        (err: unknown) => globalErrorHandler(err as Error),
      )
      .finally(() => {
        this.#held -= count;
        this.#sending.delete(sent);
      });
    this.#sending.add(sent);
    return sent;
  }

  async forceFlush(): Promise<void> {
    await this.#send();
    await Promise.all(this.#sending);
  }

  shutdown(): Promise<void> {
    this.#stopped ??= this.forceFlush().then(() => this.#exporter.shutdown());
    return this.#stopped;
  }
}
