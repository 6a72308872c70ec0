/** The `grpc-timeout` request header (gRPC over HTTP/2): at most 8 digits and a unit. */

const UNIT_MS: Readonly<Record<string, number>> = {
  H: 3_600_000,
  M: 60_000,
  S: 1000,
  m: 1,
  u: 1e-3,
  n: 1e-6,
};

const GRPC_TIMEOUT = /^(\d{1,8})([HMSmun])$/;

/** The deadline the client set, ms (at least 1); Infinity when the header is absent or malformed. */
export function grpcTimeoutMs(value: string | string[] | undefined): number {
  if (typeof value !== 'string') return Infinity;
  const match = GRPC_TIMEOUT.exec(value);
  if (match === null) return Infinity;
  return Math.max(1, Math.ceil(Number(match[1]) * (UNIT_MS[match[2] as string] as number)));
}
