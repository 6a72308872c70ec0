/** How per-minute counts are spelled as hash fields: one encoding for the Redis flush, the reader and local minutes. */
import { LATENCY_BUCKETS } from './latency-sketch.js';
import { REASONS, REASON_COUNT } from './reasons.js';
import { newAggregate, type Aggregate } from './stats.js';
import { ATTEMPT_OUTCOMES } from './instance-stats.js';

/** Summed fields of one time bucket: field name -> count. */
export type Fields = Map<string, number>;

/** The history "names" beside route names: fleet-wide hashes of gateways, instances and consumers. */
export const GATEWAYS = '@gateways';
export const INSTANCES = '@instances';
export const CONSUMERS = '@consumers';

/** Separator inside field names; service and route names cannot contain it (schema: [A-Za-z0-9._-]). */
export const SEP = '|';

/** Route aggregate fields: requests, e3, e4, e5, rl, l<i> (latency bucket i), x:<reason>. */
export function aggregateFields(
  a: Aggregate,
  add: (field: string, n: number) => void,
  prefix = '',
): void {
  if (a.requests === 0) return;
  add(`${prefix}requests`, a.requests);
  if (a.status3xx !== 0) add(`${prefix}e3`, a.status3xx);
  if (a.errors4xx !== 0) add(`${prefix}e4`, a.errors4xx);
  if (a.errors5xx !== 0) add(`${prefix}e5`, a.errors5xx);
  if (a.rateLimited !== 0) add(`${prefix}rl`, a.rateLimited);
  if (prefix !== '') return;
  for (let i = 0; i < LATENCY_BUCKETS; i++)
    if (a.latency[i] !== 0) add(`l${i}`, a.latency[i] as number);
  for (let i = 0; i < REASON_COUNT; i++)
    if (a.reasons[i] !== 0) add(`x:${REASONS[i] as string}`, a.reasons[i] as number);
}

/** The aggregate spelled by `fields` (fields with `prefix`, e.g. a gateway's `<id>|`). */
export function parseAggregate(fields: Fields, prefix = ''): Aggregate {
  const a = newAggregate();
  a.requests = fields.get(`${prefix}requests`) ?? 0;
  a.status3xx = fields.get(`${prefix}e3`) ?? 0;
  a.errors4xx = fields.get(`${prefix}e4`) ?? 0;
  a.errors5xx = fields.get(`${prefix}e5`) ?? 0;
  a.rateLimited = fields.get(`${prefix}rl`) ?? 0;
  if (prefix !== '') return a;
  for (let i = 0; i < LATENCY_BUCKETS; i++) a.latency[i] = fields.get(`l${i}`) ?? 0;
  for (let i = 0; i < REASON_COUNT; i++)
    a.reasons[i] = fields.get(`x:${REASONS[i] as string}`) ?? 0;
  return a;
}

/** An instance attempt field: `<service>|<id>|<outcome>`. */
export function instanceField(service: string, id: string, outcome: number): string {
  return `${service}${SEP}${id}${SEP}${ATTEMPT_OUTCOMES[outcome] as string}`;
}

/** Splits an instance field (the id may itself contain the separator: service first, outcome last). */
export function splitInstanceField(
  field: string,
): { service: string; id: string; outcome: string } | undefined {
  const first = field.indexOf(SEP);
  const last = field.lastIndexOf(SEP);
  if (first <= 0 || last <= first) return undefined;
  return {
    service: field.slice(0, first),
    id: field.slice(first + 1, last),
    outcome: field.slice(last + 1),
  };
}

/** Adds `n` to `field` of a field map. */
export function addField(fields: Fields, field: string, n: number): void {
  fields.set(field, (fields.get(field) ?? 0) + n);
}
