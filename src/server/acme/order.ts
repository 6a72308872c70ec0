/** One ACME order (RFC 8555 7.4) for one domain with acme-client: account, challenge, CSR, certificate. */
import { Agent } from 'node:https';
import { rootCertificates } from 'node:tls';
import acme from 'acme-client';
import type { AxiosError, AxiosResponse } from 'axios';
import type { AcmeStore, StoredCertificate } from './store.js';

/** How long a published challenge answer may live: longer than any validation takes. */
const CHALLENGE_TTL_MS = 10 * 60_000;

/** What an order needs from the config. */
export interface OrderOptions {
  readonly directoryUrl: string;
  readonly email: string | undefined;
  readonly challenge: 'http-01' | 'tls-alpn-01';
  /** PEM of a private ACME server's root, trusted besides the system roots. */
  readonly ca: string | undefined;
}

/** An ACME failure with the CA's `Retry-After` (RFC 8555 6.6), when it sent one. */
export class AcmeOrderError extends Error {
  constructor(
    message: string,
    readonly retryAfterMs: number | undefined,
  ) {
    super(message);
  }
}

let lastRetryAfter: { at: number; ms: number } | undefined;

function noteRetryAfter(response: AxiosResponse): void {
  const header = response.headers['retry-after'] as string | undefined;
  if (response.status < 400 || header === undefined) return;
  const seconds = Number(header);
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(header) - Date.now();
  if (ms > 0) lastRetryAfter = { at: Date.now(), ms };
}

// acme-client retries each request by itself (5 times, up to 75 s) before an order even fails; edgeway
// backs off per domain instead, so one request is one attempt.
(
  acme.axios.defaults as unknown as { acmeSettings: { retryMaxAttempts: number } }
).acmeSettings.retryMaxAttempts = 0;
// acme-client routes every response through its error handler; this one goes first: it keeps the CA's
// Retry-After for the back-off, and turns a connection failure into a plain error naming its cause
// (acme-client's handler would read `response.config` of a response that never came).
acme.axios.interceptors.response.use(undefined, (error: AxiosError) => {
  if (error.response !== undefined) {
    noteRetryAfter(error.response);
    return Promise.reject(error);
  }
  return Promise.reject(
    new Error(`${error.config?.url ?? 'ACME server'}: ${error.code ?? error.message}`),
  );
});
const handlers = (acme.axios.interceptors.response as unknown as { handlers: unknown[] }).handlers;
handlers.unshift(handlers.pop());

async function accountKey(store: AcmeStore): Promise<string> {
  const existing = await store.accountKey();
  if (existing !== undefined) return existing;
  return store.saveAccountKey((await acme.crypto.createPrivateEcdsaKey()).toString());
}

/**
 * Orders a certificate for `domain` and returns it. The challenge answer goes to the store, so that any
 * instance behind the name answers the CA. The CA alone validates: acme-client's own pre-check through
 * this host's DNS is skipped, since behind split-horizon DNS or a load balancer the public name need not
 * resolve to this host from inside.
 */
export async function orderCertificate(
  domain: string,
  store: AcmeStore,
  options: OrderOptions,
): Promise<StoredCertificate> {
  // The private root is trusted besides the system roots (Node's `ca` option replaces them otherwise).
  acme.axios.defaults.httpsAgent =
    options.ca === undefined
      ? undefined
      : new Agent({ ca: [...rootCertificates, options.ca], keepAlive: false });
  const client = new acme.Client({
    directoryUrl: options.directoryUrl,
    accountKey: await accountKey(store),
    backoffAttempts: 12,
    backoffMin: 500,
    backoffMax: 10_000,
  });
  const [key, csr] = await acme.crypto.createCsr(
    { commonName: domain, altNames: [domain] },
    await acme.crypto.createPrivateEcdsaKey(),
  );
  const startedAt = Date.now();
  try {
    const cert = await client.auto({
      csr,
      ...(options.email === undefined ? {} : { email: options.email }),
      termsOfServiceAgreed: true,
      skipChallengeVerification: true,
      challengePriority: [options.challenge],
      challengeCreateFn: async (authz, challenge, keyAuthorization) => {
        if (challenge.type === 'http-01')
          await store.saveHttpChallenge(challenge.token, keyAuthorization, CHALLENGE_TTL_MS);
        else {
          const [alpnKey, alpnCert] = await acme.crypto.createAlpnCertificate(
            authz,
            keyAuthorization,
            await acme.crypto.createPrivateEcdsaKey(),
          );
          await store.saveAlpnChallenge(
            authz.identifier.value,
            { cert: alpnCert.toString(), key: alpnKey.toString() },
            CHALLENGE_TTL_MS,
          );
        }
      },
      challengeRemoveFn: async (authz, challenge) => {
        if (challenge.type === 'http-01') await store.deleteHttpChallenge(challenge.token);
        else await store.deleteAlpnChallenge(authz.identifier.value);
      },
    });
    return { cert, key: key.toString() };
  } catch (err) {
    const retryAfterMs =
      lastRetryAfter !== undefined && lastRetryAfter.at >= startedAt
        ? lastRetryAfter.ms
        : undefined;
    throw new AcmeOrderError((err as Error).message, retryAfterMs);
  }
}
