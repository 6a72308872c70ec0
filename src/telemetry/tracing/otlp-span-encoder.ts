/**
 * OTLP/protobuf encoding of finished spans, one span at a time as it ends, so that a pending batch is a
 * few kilobytes of bytes rather than hundreds of live span objects. The output is byte for byte what
 * OpenTelemetry's own `ProtobufTraceSerializer` writes for the same spans (a test holds it to that).
 */
import type { AttributeValue, Attributes, HrTime, Link, SpanContext } from '@opentelemetry/api';
import type { InstrumentationScope } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan, TimedEvent } from '@opentelemetry/sdk-trace-base';
import { LeanSpan } from './span-recorder.js';

const LEN = 2;
const VARINT = 0;
const I64 = 1;
const I32 = 5;
const SPAN_ATTRIBUTE = (9 << 3) | LEN;
const TWO_32 = 0x1_0000_0000;
const TWO_16 = 0x1_0000;
const MIN_INT64 = -(2 ** 63);
const MAX_INT64 = 2 ** 63;
// W3C trace flags in the low byte, then "has is_remote" and "is_remote" (OTLP SpanFlags).
const FLAG_HAS_IS_REMOTE = 0x100;
const FLAG_IS_REMOTE = 0x200;

const HEX_DIGIT = new Uint8Array(128);
for (let i = 0; i < 10; i++) HEX_DIGIT[48 + i] = i;
for (let i = 0; i < 6; i++) {
  HEX_DIGIT[97 + i] = 10 + i;
  HEX_DIGIT[65 + i] = 10 + i;
}

function varintSize(value: number): number {
  let size = 1;
  for (let v = value >>> 0; v > 0x7f; v >>>= 7) size++;
  return size;
}

/** A growable protobuf output buffer; nested messages reserve one length byte and shift when longer. */
class ProtoWriter {
  buf: Buffer;
  pos = 0;

  constructor(size: number) {
    this.buf = Buffer.allocUnsafe(size);
  }

  ensure(bytes: number): void {
    if (this.pos + bytes <= this.buf.length) return;
    let size = Math.max(this.buf.length * 2, 64);
    while (size < this.pos + bytes) size *= 2;
    const grown = Buffer.allocUnsafe(size);
    this.buf.copy(grown, 0, 0, this.pos);
    this.buf = grown;
  }

  varint(value: number): void {
    if (value >= 0 && value < 0x80) {
      this.ensure(1);
      this.buf[this.pos++] = value;
      return;
    }
    this.ensure(10);
    const buf = this.buf;
    if (value >= 0 && value <= 0xffff_ffff) {
      let v = value >>> 0;
      while (v > 0x7f) {
        buf[this.pos++] = (v & 0x7f) | 0x80;
        v >>>= 7;
      }
      buf[this.pos++] = v;
      return;
    }
    // int64 beyond 32 bits, negatives in two's complement (10 bytes), as protobuf's int64 wire format.
    const abs = Math.abs(value);
    let low = abs >>> 0;
    let high = (abs / TWO_32) >>> 0;
    if (value < 0) {
      low = ~low >>> 0;
      high = ~high >>> 0;
      low = (low + 1) >>> 0;
      if (low === 0) high = (high + 1) >>> 0;
    }
    while (high > 0 || low > 0x7f) {
      buf[this.pos++] = (low & 0x7f) | 0x80;
      low = ((low >>> 7) | (high << 25)) >>> 0;
      high >>>= 7;
    }
    buf[this.pos++] = low & 0x7f;
  }

  tag(field: number, wire: number): void {
    this.varint((field << 3) | wire);
  }

  fixed32(value: number): void {
    this.ensure(4);
    this.#uint32(value >>> 0);
  }

  /** Little-endian, by hand: Buffer#writeUInt32LE validates its arguments on every call. */
  #uint32(value: number): void {
    const buf = this.buf;
    const pos = this.pos;
    buf[pos] = value;
    buf[pos + 1] = value >>> 8;
    buf[pos + 2] = value >>> 16;
    buf[pos + 3] = value >>> 24;
    this.pos = pos + 4;
  }

  double(value: number): void {
    this.ensure(8);
    this.pos = this.buf.writeDoubleLE(value, this.pos);
  }

  /** A length-prefixed UTF-8 string; short ASCII strings are copied in JS, the rest by Buffer#write. */
  string(value: string): void {
    const length = value.length;
    this.ensure(length * 3 + 5);
    const buf = this.buf;
    if (length < 0x80) {
      const start = this.pos;
      let pos = start + 1;
      let i = 0;
      for (; i < length; i++) {
        const code = value.charCodeAt(i);
        if (code > 0x7f) break;
        buf[pos++] = code;
      }
      if (i === length) {
        buf[start] = length;
        this.pos = pos;
        return;
      }
    }
    const bytes = Buffer.byteLength(value, 'utf8');
    this.varint(bytes);
    this.pos += buf.write(value, this.pos, 'utf8');
  }

  /** A trace or span id field: `tag`, the id's length and its bytes, decoded from hex. */
  id(tag: number, hex: string): void {
    const bytes = hex.length >>> 1;
    this.ensure(bytes + 2);
    const buf = this.buf;
    let pos = this.pos;
    buf[pos++] = tag;
    buf[pos++] = bytes;
    for (let i = 0; i < 2 * bytes; i += 2) {
      buf[pos++] =
        ((HEX_DIGIT[hex.charCodeAt(i) & 0x7f] as number) << 4) |
        (HEX_DIGIT[hex.charCodeAt(i + 1) & 0x7f] as number);
    }
    this.pos = pos;
  }

  /** A fixed64 time field: `tag` and HrTime [seconds, nanos] as nanoseconds, in exact integer arithmetic (the product exceeds 2^53). */
  time(tag: number, time: HrTime): void {
    const seconds = time[0];
    const lowPart = (seconds % TWO_16) * 1e9;
    const highPart = Math.floor(seconds / TWO_16) * 1e9;
    const low = (lowPart % TWO_32) + (highPart % TWO_16) * TWO_16 + time[1];
    const high =
      Math.floor(lowPart / TWO_32) + Math.floor(highPart / TWO_16) + Math.floor(low / TWO_32);
    this.ensure(9);
    this.buf[this.pos++] = tag;
    this.#uint32((low % TWO_32) >>> 0);
    this.#uint32(high >>> 0);
  }

  bytes(value: Uint8Array): void {
    this.varint(value.length);
    this.ensure(value.length);
    this.buf.set(value, this.pos);
    this.pos += value.length;
  }

  /** A byte (a tag below 128, a small varint). */
  byte(value: number): void {
    this.ensure(1);
    this.buf[this.pos++] = value;
  }

  /**
   * Starts a nested message, reserving `reserved` length bytes: one for most messages (under 128 bytes),
   * two for a span (128 bytes to 16 KiB).
   */
  begin(reserved = 1): number {
    this.ensure(reserved);
    const start = this.pos;
    this.pos += reserved;
    return start;
  }

  /** Ends the message begun at `start`, writing its length and shifting its body if the length takes other than `reserved` bytes. */
  end(start: number, reserved = 1): void {
    const length = this.pos - start - reserved;
    const size = varintSize(length);
    if (size !== reserved) {
      this.ensure(size - reserved);
      this.buf.copyWithin(start + size, start + reserved, this.pos);
      this.pos += size - reserved;
    }
    let v = length;
    let at = start;
    while (v > 0x7f) {
      this.buf[at++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    this.buf[at] = v;
  }

  result(): Buffer {
    return this.buf.subarray(0, this.pos);
  }

  /** Empties the writer, keeping its buffer for the next batch. */
  reset(): void {
    this.pos = 0;
  }
}

function anyValue(w: ProtoWriter, value: unknown): void {
  switch (typeof value) {
    case 'string':
      w.tag(1, LEN);
      w.string(value);
      return;
    case 'boolean':
      w.tag(2, VARINT);
      w.varint(value ? 1 : 0);
      return;
    case 'number':
      if (Number.isInteger(value) && value >= MIN_INT64 && value < MAX_INT64) {
        w.tag(3, VARINT);
        w.varint(value);
      } else {
        w.tag(4, I64);
        w.double(value);
      }
      return;
    default:
  }
  if (value instanceof Uint8Array) {
    w.tag(7, LEN);
    w.bytes(value);
  } else if (Array.isArray(value)) {
    w.tag(5, LEN);
    const array = w.begin();
    for (const item of value) {
      w.tag(1, LEN);
      const start = w.begin();
      anyValue(w, item);
      w.end(start);
    }
    w.end(array);
  } else if (typeof value === 'object' && value !== null) {
    w.tag(6, LEN);
    const list = w.begin();
    for (const key in value) {
      if (!Object.hasOwn(value, key)) continue;
      w.tag(1, LEN);
      keyValue(w, key, (value as Record<string, unknown>)[key]);
    }
    w.end(list);
  }
}

function keyValue(w: ProtoWriter, key: string, value: unknown): void {
  const kv = w.begin();
  w.tag(1, LEN);
  w.string(key);
  w.tag(2, LEN);
  const start = w.begin();
  anyValue(w, value);
  w.end(start);
  w.end(kv);
}

/** Copies an ASCII string to `buf` at `pos`; returns the position after it, or -1 if `s` is not ASCII. */
function ascii(buf: Buffer, pos: number, s: string): number {
  let seen = 0;
  for (let i = 0; i < s.length; i++) {
    const code = s.charCodeAt(i);
    seen |= code;
    buf[pos++] = code;
  }
  return seen < 0x80 ? pos : -1;
}

/**
 * One attribute as a KeyValue field `tag`, tag included. The attributes of a request span (ASCII keys,
 * short ASCII strings and small integers) have every length known up front and are written in one pass;
 * anything else goes through the nested-message path.
 */
function attribute(w: ProtoWriter, tag: number, key: string, value: unknown): void {
  const keyLength = key.length;
  // tag, KeyValue length, key tag, key length, key, value tag, AnyValue length, AnyValue tag.
  if (typeof value === 'string') {
    const length = value.length;
    // KeyValue: 0a kl key 12 (vl + 2) 0a vl value.
    const kvLength = keyLength + length + 6;
    if (kvLength < 0x80) {
      w.ensure(kvLength + 2);
      const buf = w.buf;
      let pos = w.pos;
      buf[pos] = tag;
      buf[pos + 1] = kvLength;
      buf[pos + 2] = 0x0a;
      buf[pos + 3] = keyLength;
      pos = ascii(buf, pos + 4, key);
      if (pos !== -1) {
        buf[pos] = 0x12;
        buf[pos + 1] = length + 2;
        buf[pos + 2] = 0x0a;
        buf[pos + 3] = length;
        pos = ascii(buf, pos + 4, value);
        if (pos !== -1) {
          w.pos = pos;
          return;
        }
      }
    }
  } else if (typeof value === 'number' && value >= 0 && value <= 0xffff_ffff && value % 1 === 0) {
    // KeyValue: 0a kl key 12 (vs + 1) 18 varint.
    const size = varintSize(value);
    const kvLength = keyLength + size + 5;
    if (kvLength < 0x80) {
      w.ensure(kvLength + 2);
      const buf = w.buf;
      let pos = w.pos;
      buf[pos] = tag;
      buf[pos + 1] = kvLength;
      buf[pos + 2] = 0x0a;
      buf[pos + 3] = keyLength;
      pos = ascii(buf, pos + 4, key);
      if (pos !== -1) {
        buf[pos] = 0x12;
        buf[pos + 1] = size + 1;
        buf[pos + 2] = 0x18;
        w.pos = pos + 3;
        w.varint(value);
        return;
      }
    }
  }
  w.byte(tag);
  keyValue(w, key, value);
}

function attributes(w: ProtoWriter, attrs: Attributes, field: number): void {
  const tag = (field << 3) | LEN;
  for (const key in attrs) {
    if (!Object.hasOwn(attrs, key)) continue;
    attribute(w, tag, key, attrs[key]);
  }
}

/** Span field 9 from a lean span's attribute lists, in the order the SDK span's object would list them. */
function listedAttributes(
  w: ProtoWriter,
  keys: readonly string[],
  values: readonly AttributeValue[],
): void {
  for (let i = 0; i < keys.length; i++) attribute(w, SPAN_ATTRIBUTE, keys[i] as string, values[i]);
}

function event(w: ProtoWriter, e: TimedEvent): void {
  const start = w.begin();
  w.time((1 << 3) | I64, e.time);
  w.tag(2, LEN);
  w.string(e.name);
  if (e.attributes) attributes(w, e.attributes, 3);
  w.tag(4, VARINT);
  w.varint(e.droppedAttributesCount || 0);
  w.end(start);
}

/** trace_id, span_id and trace_state: fields 1 to 3 of both Span and Span.Link. */
function contextFields(w: ProtoWriter, ctx: SpanContext): void {
  w.id((1 << 3) | LEN, ctx.traceId);
  w.id((2 << 3) | LEN, ctx.spanId);
  const traceState = ctx.traceState?.serialize();
  if (traceState) {
    w.tag(3, LEN);
    w.string(traceState);
  }
}

function link(w: ProtoWriter, l: Link): void {
  const start = w.begin();
  const ctx = l.context;
  contextFields(w, ctx);
  if (l.attributes) attributes(w, l.attributes, 4);
  w.tag(5, VARINT);
  w.varint(l.droppedAttributesCount || 0);
  const flags = spanFlags(ctx, ctx.isRemote);
  w.tag(6, I32);
  w.fixed32(flags);
  w.end(start);
}

function spanFlags(ctx: SpanContext, isRemote: boolean | undefined): number {
  return (ctx.traceFlags & 0xff) | FLAG_HAS_IS_REMOTE | (isRemote ? FLAG_IS_REMOTE : 0);
}

/** Appends one `Span` message (ScopeSpans field 2, tag included). */
function span(w: ProtoWriter, s: ReadableSpan): void {
  w.byte((2 << 3) | LEN);
  const start = w.begin(2);
  const ctx = s.spanContext();
  contextFields(w, ctx);
  const parent = s.parentSpanContext;
  if (parent?.spanId) w.id((4 << 3) | LEN, parent.spanId);
  w.byte((5 << 3) | LEN);
  w.string(s.name);
  // OTLP's SpanKind is the API's plus one (0 is "unspecified").
  w.byte((6 << 3) | VARINT);
  w.varint(s.kind + 1);
  w.time((7 << 3) | I64, s.startTime);
  w.time((8 << 3) | I64, s.endTime);
  const keys = s instanceof LeanSpan ? s.attributeKeys : undefined;
  if (keys !== undefined) listedAttributes(w, keys, (s as LeanSpan).attributeValues);
  else attributes(w, s.attributes, 9);
  w.byte((10 << 3) | VARINT);
  w.varint(s.droppedAttributesCount);
  for (const e of s.events) {
    w.tag(11, LEN);
    event(w, e);
  }
  w.byte((12 << 3) | VARINT);
  w.varint(s.droppedEventsCount);
  for (const l of s.links) {
    w.tag(13, LEN);
    link(w, l);
  }
  w.byte((14 << 3) | VARINT);
  w.varint(s.droppedLinksCount);
  w.byte((15 << 3) | LEN);
  const status = w.begin();
  if (s.status.message) {
    w.byte((2 << 3) | LEN);
    w.string(s.status.message);
  }
  w.byte((3 << 3) | VARINT);
  w.varint(s.status.code);
  w.end(status);
  w.tag(16, I32);
  w.fixed32(spanFlags(ctx, parent?.isRemote));
  w.end(start, 2);
}

function scopeMessage(
  scope: InstrumentationScope & { attributes?: Attributes; droppedAttributesCount?: number },
): Buffer {
  const w = new ProtoWriter(128);
  w.tag(1, LEN);
  w.string(scope.name);
  if (scope.version) {
    w.tag(2, LEN);
    w.string(scope.version);
  }
  if (scope.attributes) attributes(w, scope.attributes, 3);
  if (scope.droppedAttributesCount) {
    w.tag(4, VARINT);
    w.varint(scope.droppedAttributesCount);
  }
  return w.result();
}

function resourceMessage(resource: Resource): Buffer {
  const w = new ProtoWriter(512);
  attributes(w, resource.attributes, 1);
  w.tag(2, VARINT);
  w.varint(0);
  return w.result();
}

interface ScopeGroup {
  readonly scope: InstrumentationScope;
  readonly spans: ProtoWriter;
}

/**
 * Spans of one export request, encoded as they are added, grouped by resource and instrumentation scope.
 * Reusable after {@link clear}: its buffers stay allocated, so a steady flow of batches allocates only the
 * request bodies (fresh ArrayBuffers per batch made V8 run extra full collections).
 */
export class SpanBatch {
  readonly #groups = new Map<Resource, Map<InstrumentationScope, ScopeGroup>>();
  /** Emptied writers of earlier batches, reused so that groups still appear in first-span order. */
  readonly #freeWriters: ProtoWriter[] = [];
  #count = 0;

  get count(): number {
    return this.#count;
  }

  /** Encodes one span; if it cannot be encoded, throws and leaves the batch as it was. */
  add(s: ReadableSpan): void {
    let scopes = this.#groups.get(s.resource);
    if (scopes === undefined) {
      scopes = new Map();
      this.#groups.set(s.resource, scopes);
    }
    let group = scopes.get(s.instrumentationScope);
    if (group === undefined) {
      group = {
        scope: s.instrumentationScope,
        spans: this.#freeWriters.pop() ?? new ProtoWriter(64 * 1024),
      };
      scopes.set(s.instrumentationScope, group);
    }
    const mark = group.spans.pos;
    try {
      span(group.spans, s);
    } catch (err) {
      group.spans.pos = mark;
      throw err;
    }
    this.#count++;
  }

  /** Empties the batch for reuse, keeping a few buffers; buffers from {@link encode} stay valid. */
  clear(): void {
    for (const scopes of this.#groups.values()) {
      for (const group of scopes.values()) {
        group.spans.reset();
        // Normally one resource and one scope (edgeway's tracer); more is not worth keeping buffers for.
        if (this.#freeWriters.length < 2) this.#freeWriters.push(group.spans);
      }
    }
    this.#groups.clear();
    this.#count = 0;
  }

  /** Resolves once every resource's asynchronously detected attributes are known (encode needs them). */
  async resourcesReady(): Promise<void> {
    for (const resource of this.#groups.keys()) {
      if (resource.asyncAttributesPending) await resource.waitForAsyncAttributes?.();
    }
  }

  /** The ExportTraceServiceRequest, written in one exactly sized buffer around the already-encoded spans. */
  encode(): Buffer {
    // Varints (tags and lengths) and encoded parts, in output order, with their total size.
    const parts: (Buffer | number)[] = [];
    let total = 0;
    const bytes = (part: Buffer): void => {
      parts.push(part);
      total += part.length;
    };
    const field = (number: number, length: number): void => {
      const tag = (number << 3) | LEN;
      parts.push(tag, length);
      total += varintSize(tag) + varintSize(length);
    };
    const fieldSize = (length: number): number => 1 + varintSize(length) + length;
    for (const [resource, scopes] of this.#groups) {
      const resourceBody = resourceMessage(resource);
      const resourceSchema = schemaUrl(resource.schemaUrl);
      // A group whose only span failed to encode is empty; the official serializer would not have it.
      const scopeBodies = [...scopes.values()]
        .filter((group) => group.spans.pos > 0)
        .map((group) => {
          const scope = scopeMessage(group.scope);
          const spans = group.spans.result();
          const schema = schemaUrl(group.scope.schemaUrl);
          return {
            scope,
            spans,
            schema,
            length: fieldSize(scope.length) + spans.length + schema.length,
          };
        });
      if (scopeBodies.length === 0) continue;
      let length = fieldSize(resourceBody.length) + resourceSchema.length;
      for (const body of scopeBodies) length += fieldSize(body.length);
      field(1, length);
      field(1, resourceBody.length);
      bytes(resourceBody);
      for (const body of scopeBodies) {
        field(2, body.length);
        field(1, body.scope.length);
        bytes(body.scope);
        bytes(body.spans);
        bytes(body.schema);
      }
      bytes(resourceSchema);
    }
    // Slack for the last varint's capacity check.
    const w = new ProtoWriter(total + 10);
    for (const part of parts) {
      if (typeof part === 'number') {
        w.varint(part);
      } else {
        part.copy(w.buf, w.pos);
        w.pos += part.length;
      }
    }
    return w.result();
  }
}

function schemaUrl(url: string | undefined): Buffer {
  if (!url) return Buffer.alloc(0);
  const w = new ProtoWriter(url.length * 3 + 8);
  w.tag(3, LEN);
  w.string(url);
  return w.result();
}
