/** This process's version and start time, for the dashboard and the fleet's gateway list. */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The edgeway version from the package.json above this module (from src/ and from dist/src/), or "unknown". */
function readVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let depth = 0; depth < 6; depth += 1) {
    const candidate = join(dir, 'package.json');
    if (existsSync(candidate)) {
      const pkg = JSON.parse(readFileSync(candidate, 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === 'edgeway') return pkg.version ?? 'unknown';
    }
    dir = dirname(dir);
  }
  return 'unknown';
}

/** The running edgeway version. */
export const VERSION = readVersion();
/** When this process started, epoch ms. */
export const STARTED_AT = Date.now() - Math.round(process.uptime() * 1000);
