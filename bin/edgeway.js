#!/usr/bin/env node
// Runs the TypeScript sources through tsx in a development checkout; where tsx is not installed (npm ci
// --omit=dev, the container image) it runs the compiled dist/ (npm run build). Sources win when both can
// run, so a stale dist/ never runs in development.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(root, 'src', 'cli', 'main.ts');
const compiled = join(root, 'dist', 'src', 'cli', 'main.js');

function tsxInstalled() {
  try {
    createRequire(join(root, 'package.json')).resolve('tsx');
    return true;
  } catch {
    return false;
  }
}

if (existsSync(source) && tsxInstalled()) {
  await import('tsx/esm');
  await import(pathToFileURL(source).href);
} else if (existsSync(compiled)) {
  await import(pathToFileURL(compiled).href);
} else {
  process.stderr.write(
    'edgeway: neither dist/ (npm run build) nor tsx (a dev dependency: npm ci without --omit=dev) is installed, so nothing can run\n',
  );
  process.exitCode = 1;
}
