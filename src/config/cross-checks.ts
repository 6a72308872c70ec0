/** Checks that span keys (references, duplicates, combinations) after the schema has passed. */
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { acmeDomains } from './acme-domains.js';
import { parseHashOn } from './hash-on.js';
import type { Config } from './schema.js';
import { checkPluginReferences } from './plugin-checks.js';

/** One cross-field problem, at a key path of the merged config. */
export interface CrossIssue {
  readonly path: ReadonlyArray<PropertyKey>;
  readonly message: string;
}

/** Reads and parses one PEM file (relative paths resolve against the working directory), or records why not. */
function readPem<T>(
  file: string,
  parse: (pem: Buffer) => T,
  path: ReadonlyArray<PropertyKey>,
  issues: CrossIssue[],
): T | undefined {
  try {
    return parse(readFileSync(resolve(file)));
  } catch (err) {
    const reason =
      (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message;
    issues.push({ path, message: `cannot use ${file}: ${reason}` });
    return undefined;
  }
}

/** A certificate and its private key: both or neither, both parse, and the key belongs to the certificate. */
function checkPemPair(
  pair: { cert?: string; key?: string },
  at: ReadonlyArray<PropertyKey>,
  issues: CrossIssue[],
): void {
  const { cert, key } = pair;
  if (cert === undefined || key === undefined) {
    if (cert !== key)
      issues.push({ path: at, message: `${String(at[at.length - 1])} needs both cert and key` });
    return;
  }
  const certificate = readPem(cert, (pem) => new X509Certificate(pem), [...at, 'cert'], issues);
  const privateKey: KeyObject | undefined = readPem(
    key,
    (pem) => createPrivateKey(pem),
    [...at, 'key'],
    issues,
  );
  if (certificate && privateKey && !certificate.checkPrivateKey(privateKey)) {
    issues.push({
      path: [...at, 'key'],
      message: `the key in ${key} does not belong to the certificate in ${cert}`,
    });
  }
}

function checkAcme(config: Config, issues: CrossIssue[]): void {
  const tls = config.gateway.tls;
  const acme = tls?.acme;
  if (acme === undefined) return;
  const at = ['gateway', 'tls', 'acme'];
  if (acme.challenge === 'http-01' && tls?.redirectHttpPort === undefined)
    issues.push({
      path: [...at, 'challenge'],
      message:
        'http-01 is answered on gateway.tls.redirectHttpPort: set it (80 for a public CA), or use challenge: tls-alpn-01',
    });
  if (acmeDomains(config).length === 0)
    issues.push({
      path: [...at, 'domains'],
      message: 'acme needs domains: list them, or give routes an exact match.host',
    });
  if (acme.ca !== undefined)
    readPem(acme.ca, (pem) => new X509Certificate(pem), [...at, 'ca'], issues);
}

function checkTls(config: Config, issues: CrossIssue[]): void {
  const tls = config.gateway.tls;
  if (tls !== undefined) {
    checkPemPair(tls, ['gateway', 'tls'], issues);
    if (
      tls.cert === undefined &&
      tls.key === undefined &&
      (tls.sni ?? []).length === 0 &&
      tls.acme === undefined
    )
      issues.push({
        path: ['gateway', 'tls'],
        message: 'tls needs cert and key, at least one sni entry, or acme',
      });
    if (tls.acme !== undefined) checkAcme(config, issues);
    tls.sni?.forEach((entry, i) => checkPemPair(entry, ['gateway', 'tls', 'sni', i], issues));
  }
  for (const [name, service] of Object.entries(config.services)) {
    const upstreamTls = service.upstreamTls;
    if (upstreamTls === undefined) continue;
    if (upstreamTls.ca !== undefined)
      readPem(
        upstreamTls.ca,
        (pem) => new X509Certificate(pem),
        ['services', name, 'upstreamTls', 'ca'],
        issues,
      );
    checkPemPair(upstreamTls, ['services', name, 'upstreamTls'], issues);
  }
}

function checkServices(config: Config, issues: CrossIssue[]): void {
  for (const [name, service] of Object.entries(config.services)) {
    if (service.discovery === 'static' && service.instances.length === 0) {
      issues.push({
        path: ['services', name, 'instances'],
        message: 'a static service needs at least one instance',
      });
    }
    if (service.discovery === 'redis' && service.instances.length > 0) {
      issues.push({
        path: ['services', name, 'instances'],
        message:
          'instances are only for discovery: static; redis-discovered instances register themselves',
      });
    }
    if (service.healthCheck?.type === 'grpc' && service.protocol === 'http1') {
      issues.push({
        path: ['services', name, 'healthCheck', 'type'],
        message: 'a grpc health check needs protocol h2 or h2c, not http1',
      });
    }
    const { policy, hashOn } = service.loadBalancer;
    if (policy === 'ring-hash' && hashOn === undefined) {
      issues.push({
        path: ['services', name, 'loadBalancer', 'hashOn'],
        message: 'ring-hash needs hashOn: header:NAME, ip or cookie:NAME',
      });
    }
    const parsed = parseHashOn(hashOn);
    if (!parsed.ok)
      issues.push({ path: ['services', name, 'loadBalancer', 'hashOn'], message: parsed.message });
    if (hashOn !== undefined && policy !== 'ring-hash') {
      issues.push({
        path: ['services', name, 'loadBalancer', 'hashOn'],
        message: `hashOn only applies to policy ring-hash, not ${policy}`,
      });
    }
  }
}

function record(value: unknown): Record<string, unknown> | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

/**
 * Broken references (unknown services, duplicate route names), read from the raw merged document so they
 * are reported alongside schema errors rather than only after those are fixed.
 */
export function referenceIssues(raw: unknown): CrossIssue[] {
  const issues: CrossIssue[] = [];
  const doc = record(raw);
  const services = record(doc?.services) ?? {};
  const routes = Array.isArray(doc?.routes) ? (doc.routes as unknown[]) : [];
  const names = new Map<string, number>();
  routes.forEach((entry, i) => {
    const route = record(entry);
    if (route === undefined) return;
    if (typeof route.name === 'string') {
      const first = names.get(route.name);
      if (first !== undefined)
        issues.push({
          path: ['routes', i, 'name'],
          message: `duplicate route name "${route.name}" (also routes[${first}])`,
        });
      else names.set(route.name, i);
    }
    if (typeof route.service === 'string' && !(route.service in services)) {
      issues.push({
        path: ['routes', i, 'service'],
        message: `unknown service "${route.service}"`,
      });
    }
    if (Array.isArray(route.split)) {
      route.split.forEach((part, j) => {
        const target = record(part)?.service;
        if (typeof target === 'string' && !(target in services))
          issues.push({
            path: ['routes', i, 'split', j, 'service'],
            message: `unknown service "${target}"`,
          });
      });
    }
  });
  return issues;
}

/** On a CORS route the cors stage writes the Access-Control-* headers; a transform of them would send two or none. */
function checkCorsOwnership(
  route: Config['routes'][number],
  i: number,
  issues: CrossIssue[],
): void {
  const transform = route.responseHeaders;
  if (route.cors === undefined || transform === undefined) return;
  const message = (name: string): string =>
    `${name.toLowerCase()}: cors writes the Access-Control-* headers on this route; configure them under cors`;
  for (const name of Object.keys(transform.set)) {
    if (name.toLowerCase().startsWith('access-control-'))
      issues.push({ path: ['routes', i, 'responseHeaders', 'set', name], message: message(name) });
  }
  transform.remove.forEach((name, j) => {
    if (name.toLowerCase().startsWith('access-control-'))
      issues.push({ path: ['routes', i, 'responseHeaders', 'remove', j], message: message(name) });
  });
}

function checkRoutes(config: Config, issues: CrossIssue[]): void {
  const hasIssuers = config.auth.issuers.length > 0;
  config.routes.forEach((route, i) => {
    if (route.auth?.required && !hasIssuers && !route.auth.apiKeys) {
      issues.push({
        path: ['routes', i, 'auth'],
        message: 'auth is required but auth.issuers is empty',
      });
    }
    if (route.rateLimit?.key === 'consumer' && !route.auth?.required) {
      issues.push({
        path: ['routes', i, 'rateLimit', 'key'],
        message: 'key consumer needs auth.required on the route (the consumer is the token sub)',
      });
    }
    checkCorsOwnership(route, i, issues);
    if (route.grpc || route.grpcWeb) {
      // gRPC needs HTTP/2 end to end (trailers carry the status); an http1 service could never answer it.
      // gRPC-Web is gRPC upstream: the same holds.
      const key = route.grpc ? 'grpc' : 'grpcWeb';
      for (const name of [route.service, ...(route.split ?? []).map((part) => part.service)]) {
        if (config.services[name]?.protocol === 'http1') {
          issues.push({
            path: ['routes', i, key],
            message: `${key} needs service "${name}" to use protocol h2 or h2c, not http1`,
          });
        }
      }
    }
  });
}

/** Every cross-field problem of a schema-valid config, in document order. */
export function crossCheck(config: Config): CrossIssue[] {
  const issues: CrossIssue[] = [];
  checkTls(config, issues);
  config.auth.issuers.forEach((issuer, i) => {
    if (issuer.jwksUri === undefined && issuer.issuer !== 'edgeway') {
      issues.push({
        path: ['auth', 'issuers', i, 'jwksUri'],
        message:
          'an external issuer needs jwksUri (only the issuer "edgeway" uses edgeway\'s own keys)',
      });
    }
  });
  checkServices(config, issues);
  issues.push(...referenceIssues(config));
  checkRoutes(config, issues);
  checkPluginReferences(config, issues);
  return issues;
}
