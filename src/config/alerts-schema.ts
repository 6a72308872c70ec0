/** The `alerts` config section: rules evaluated by telemetry/alerts/alerts.ts, and webhook URLs. */
import { z } from 'zod';
import { duration } from './duration.js';

const ruleName = z
  .string()
  .min(1)
  .regex(/^[A-Za-z0-9._-]+$/, 'alert names use letters, digits, ".", "_" and "-"');

const errorRatioRule = z.strictObject({
  name: ruleName,
  kind: z.literal('error-ratio'),
  route: z.string().min(1),
  /** 5xx responses / all responses over the trailing minute, 0..1. */
  threshold: z.number().gt(0).max(1),
  for: duration.default(60_000),
  /** Fewer requests than this in the minute never fire (one failed request is not a 100 % outage). */
  minRequests: z.number().int().positive().default(1),
});
const latencyRule = z.strictObject({
  name: ruleName,
  kind: z.literal('latency-p99'),
  route: z.string().min(1),
  thresholdMs: z.number().positive(),
  for: duration.default(60_000),
});
const noHealthyRule = z.strictObject({
  name: ruleName,
  kind: z.literal('no-healthy-instance'),
  service: z.string().min(1),
  for: duration.default(0),
});
const certificateExpiryRule = z.strictObject({
  name: ruleName,
  kind: z.literal('certificate-expiry'),
  /** One ACME domain; default: every one. */
  domain: z.string().min(1).optional(),
  /** Fires while a served certificate expires sooner than this (or none has been issued yet). */
  within: duration.default(14 * 86_400_000), // 14 days
  for: duration.default(600_000),
});
const redisDownRule = z.strictObject({
  name: ruleName,
  kind: z.literal('redis-down'),
  for: duration.default(30_000),
});

/** The `alerts` config section: `{ rules: [...], webhooks: [urls] }`. Rule names must be unique. */
export const alertsSchema = z
  .strictObject({
    rules: z
      .array(
        z.discriminatedUnion('kind', [
          errorRatioRule,
          latencyRule,
          noHealthyRule,
          redisDownRule,
          certificateExpiryRule,
        ]),
      )
      .default([])
      .superRefine((rules, ctx) => {
        const seen = new Set<string>();
        rules.forEach((rule, index) => {
          if (seen.has(rule.name))
            ctx.addIssue({
              code: 'custom',
              path: [index, 'name'],
              message: `duplicate alert name "${rule.name}"`,
            });
          seen.add(rule.name);
        });
      }),
    webhooks: z.array(z.url({ protocol: /^https?$/ })).default([]),
  })
  .default({ rules: [], webhooks: [] });

/** The parsed `alerts` section. */
export type AlertsConfig = z.infer<typeof alertsSchema>;
/** One parsed rule. */
export type AlertRule = AlertsConfig['rules'][number];
