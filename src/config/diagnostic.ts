/** A config error with the file, line and key path it points at, printed the same by `check` and reload. */

export interface Diagnostic {
  readonly file: string;
  /** 1-based line, 0 when the error is about the file as a whole. */
  readonly line: number;
  /** Key path in the merged config, e.g. `routes[2].service`; "" for file-level errors. */
  readonly path: string;
  readonly message: string;
}

/** `file:line: path: message`, the one spelling used by `edgeway check`, reload answers and logs. */
export function formatDiagnostic(d: Diagnostic): string {
  const where = d.line > 0 ? `${d.file}:${d.line}` : d.file;
  return d.path === '' ? `${where}: ${d.message}` : `${where}: ${d.path}: ${d.message}`;
}

/** `routes[2].match.path` from ['routes', 2, 'match', 'path']. */
export function formatKeyPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out === '' ? String(key) : `.${String(key)}`;
  }
  return out;
}
