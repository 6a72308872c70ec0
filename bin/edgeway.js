#!/usr/bin/env node
// Runs the TypeScript sources through tsx in a checkout; an installed package or image without src/
// runs the compiled dist/ (npm run build). Sources win so a stale dist/ never runs in development.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(root, 'src', 'cli', 'main.ts');
if (existsSync(source)) {
  await import('tsx/esm');
  await import(pathToFileURL(source).href);
} else {
  await import(pathToFileURL(join(root, 'dist', 'src', 'cli', 'main.js')).href);
}
