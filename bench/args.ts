/** The command-line flags of a benchmark script, parsed the same way in every one. */
import { parseArgs } from 'node:util';

/** A flag's default: a number or a string (`--name value`), a boolean (`--name`), null for an optional string. */
type Default = number | string | boolean | null;

/** The parsed value of a flag with default `D`. */
type Parsed<D> = D extends null
  ? string | undefined
  : D extends number
    ? number
    : D extends boolean
      ? boolean
      : string;

/**
 * Parses `process.argv` against `defaults` (flag name -> default): numbers come back as numbers, and a number
 * flag given something else, or a flag not in `defaults`, stops the script with the flag's name.
 */
export function benchFlags<T extends Readonly<Record<string, Default>>>(
  defaults: T,
): { -readonly [K in keyof T]: Parsed<T[K]> } {
  const options: Record<string, { type: 'string' | 'boolean'; default?: string | boolean }> = {};
  for (const [name, fallback] of Object.entries(defaults)) {
    options[name] =
      typeof fallback === 'boolean'
        ? { type: 'boolean', default: fallback }
        : fallback === null
          ? { type: 'string' }
          : { type: 'string', default: String(fallback) };
  }
  const { values } = parseArgs({ options });
  const parsed: Record<string, unknown> = {};
  for (const [name, fallback] of Object.entries(defaults)) {
    const value = values[name];
    if (typeof fallback !== 'number') {
      parsed[name] = value;
      continue;
    }
    const number = Number(value);
    if (!Number.isFinite(number))
      throw new Error(`--${name} takes a number, not "${String(value)}"`);
    parsed[name] = number;
  }
  return parsed as { -readonly [K in keyof T]: Parsed<T[K]> };
}
