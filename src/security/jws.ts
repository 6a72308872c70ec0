/**
 * Compact JWS (RFC 7515) for the request path: one split, strict base64url, one JSON parse per part, and the
 * signature checked synchronously by node:crypto on a KeyObject derived once per key, instead of jose's
 * WebCrypto round trip (a promise, argument normalization and a thread-pool hop per token).
 */
import { KeyObject, constants, verify } from 'node:crypto';
import type { CryptoKey } from 'jose';

/** The JWS algorithms `auth.algorithms` may list. */
export type JwsAlgorithm =
  'RS256' | 'RS384' | 'RS512' | 'PS256' | 'PS384' | 'PS512' | 'ES256' | 'ES384' | 'ES512' | 'EdDSA';

interface AlgorithmSpec {
  /** Digest for node:crypto's verify; null for EdDSA, which hashes internally. */
  readonly hash: string | null;
  /** The WebCrypto algorithm a key must have been imported as to verify this JWS algorithm. */
  readonly importedAs: {
    readonly name: string;
    readonly hash?: string;
    readonly namedCurve?: string;
  };
  /** RFC 7518 3.4: an ECDSA signature is R || S (node:crypto refuses any other length), not DER. */
  readonly ieeeP1363?: boolean;
  readonly pss?: boolean;
}

const RSA = 'RSASSA-PKCS1-v1_5';

/** RFC 7518 3.1 and RFC 8037 3.1; EdDSA is Ed25519 only, as jose signs and verifies it. */
const ALGORITHMS: Readonly<Record<JwsAlgorithm, AlgorithmSpec>> = {
  RS256: { hash: 'sha256', importedAs: { name: RSA, hash: 'SHA-256' } },
  RS384: { hash: 'sha384', importedAs: { name: RSA, hash: 'SHA-384' } },
  RS512: { hash: 'sha512', importedAs: { name: RSA, hash: 'SHA-512' } },
  PS256: { hash: 'sha256', importedAs: { name: 'RSA-PSS', hash: 'SHA-256' }, pss: true },
  PS384: { hash: 'sha384', importedAs: { name: 'RSA-PSS', hash: 'SHA-384' }, pss: true },
  PS512: { hash: 'sha512', importedAs: { name: 'RSA-PSS', hash: 'SHA-512' }, pss: true },
  ES256: { hash: 'sha256', importedAs: { name: 'ECDSA', namedCurve: 'P-256' }, ieeeP1363: true },
  ES384: { hash: 'sha384', importedAs: { name: 'ECDSA', namedCurve: 'P-384' }, ieeeP1363: true },
  ES512: { hash: 'sha512', importedAs: { name: 'ECDSA', namedCurve: 'P-521' }, ieeeP1363: true },
  EdDSA: { hash: null, importedAs: { name: 'Ed25519' } },
};

/** RFC 7518 3.3 and 3.5: an RSA key shorter than 2048 bits is refused (as jose refuses it). */
const MIN_RSA_BITS = 2048;

/** Longest compact token verified: the Authorization header limit, so a direct caller is bounded too. */
export const MAX_TOKEN_LENGTH = 8 * 1024;

/** RFC 7515 2 and RFC 4648 5: unpadded base64url. The signature may be empty (alg none), refused later by alg. */
const BASE64URL = /^[A-Za-z0-9_-]+$/;
const SIGNATURE = /^[A-Za-z0-9_-]*$/;

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** A compact JWS split and decoded; nothing in it is trusted until `verifySignature` says so. */
export interface DecodedJws {
  readonly header: Readonly<Record<string, unknown>>;
  readonly payload: Readonly<Record<string, unknown>>;
  /** The three base64url parts, as jose's key resolvers take them. */
  readonly protectedPart: string;
  readonly payloadPart: string;
  readonly signaturePart: string;
  /** ASCII `header.payload`, the signing input. */
  readonly signingInput: string;
}

/** The resolved key cannot verify the token's algorithm (type, curve, size, or bound to another algorithm). */
export class KeyMismatchError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'KeyMismatchError';
  }
}

/** A verification key bound to the one algorithm it may verify. */
interface BoundKey {
  readonly alg: JwsAlgorithm;
  readonly key: KeyObject;
}

/** Splits and decodes a compact JWS; undefined unless it is three base64url parts with JSON-object header and payload. */
export function decodeJws(token: string): DecodedJws | undefined {
  if (token.length > MAX_TOKEN_LENGTH) return undefined;
  const first = token.indexOf('.');
  const second = token.indexOf('.', first + 1);
  if (first === -1 || second === -1 || token.indexOf('.', second + 1) !== -1) return undefined;
  const protectedPart = token.slice(0, first);
  const payloadPart = token.slice(first + 1, second);
  const signaturePart = token.slice(second + 1);
  if (
    !BASE64URL.test(protectedPart) ||
    !BASE64URL.test(payloadPart) ||
    !SIGNATURE.test(signaturePart)
  )
    return undefined;
  const header = jsonObject(protectedPart);
  const payload = header === undefined ? undefined : jsonObject(payloadPart);
  if (header === undefined || payload === undefined) return undefined;
  return {
    header,
    payload,
    protectedPart,
    payloadPart,
    signaturePart,
    signingInput: token.slice(0, second),
  };
}

function jsonObject(part: string): Record<string, unknown> | undefined {
  let value: unknown;
  try {
    value = JSON.parse(strictUtf8.decode(Buffer.from(part, 'base64url')));
  } catch {
    return undefined;
  }
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

/**
 * Why a key cannot verify `alg`, or undefined when it can: it must be a public verification key imported for
 * exactly this algorithm (name, hash, curve), as jose's own check demands, and an RSA key must be large enough.
 */
function keyProblem(cryptoKey: CryptoKey, alg: JwsAlgorithm): string | undefined {
  const expected = ALGORITHMS[alg].importedAs;
  const actual = cryptoKey.algorithm as {
    name: string;
    hash?: { name: string };
    namedCurve?: string;
    modulusLength?: number;
  };
  if (cryptoKey.type !== 'public' || !cryptoKey.usages.includes('verify'))
    return 'not a public verification key';
  if (
    actual.name !== expected.name ||
    actual.hash?.name !== expected.hash ||
    actual.namedCurve !== expected.namedCurve
  )
    return `a ${actual.name} key cannot ${alg}`;
  if (actual.modulusLength !== undefined && actual.modulusLength < MIN_RSA_BITS)
    return `${alg} needs an RSA key of at least ${MIN_RSA_BITS} bits`;
  return undefined;
}

/**
 * KeyObjects by the jose CryptoKey they were derived from, with the one algorithm that key was imported for.
 * A key ring and jose's local JWK Set import each JWK once and hand back the same CryptoKey, so the check and
 * the derivation run once per key.
 */
const boundKeys = new WeakMap<CryptoKey, BoundKey>();

/** The KeyObject of `cryptoKey` for `alg`; throws a KeyMismatchError when the key was not imported for `alg`. */
export function keyFor(cryptoKey: CryptoKey, alg: JwsAlgorithm): KeyObject {
  const bound = boundKeys.get(cryptoKey);
  if (bound !== undefined) {
    if (bound.alg !== alg) throw new KeyMismatchError(`the key verifies ${bound.alg}, not ${alg}`);
    return bound.key;
  }
  const problem = keyProblem(cryptoKey, alg);
  if (problem !== undefined) throw new KeyMismatchError(problem);
  const key = KeyObject.from(cryptoKey as Parameters<typeof KeyObject.from>[0]);
  boundKeys.set(cryptoKey, { alg, key });
  return key;
}

/** Whether `signaturePart` is a valid `alg` signature by `key` over the JWS signing input. */
export function verifySignature(jws: DecodedJws, alg: JwsAlgorithm, key: KeyObject): boolean {
  const spec = ALGORITHMS[alg];
  const signature = Buffer.from(jws.signaturePart, 'base64url');
  const data = Buffer.from(jws.signingInput, 'latin1');
  if (spec.pss === true) {
    return verify(
      spec.hash,
      data,
      {
        key,
        padding: constants.RSA_PKCS1_PSS_PADDING,
        saltLength: constants.RSA_PSS_SALTLEN_DIGEST,
      },
      signature,
    );
  }
  if (spec.ieeeP1363 === true)
    return verify(spec.hash, data, { key, dsaEncoding: 'ieee-p1363' }, signature);
  return verify(spec.hash, data, key, signature);
}
