/** Cross-checks of `plugins:`: declared once each, and every plugin a route lists is declared. */
import type { CrossIssue } from './cross-checks.js';
import type { Config } from './schema.js';

/** Adds an issue per duplicate declaration and per route entry naming an undeclared plugin. */
export function checkPluginReferences(config: Config, issues: CrossIssue[]): void {
  const declared = new Map<string, number>();
  config.plugins.forEach((plugin, i) => {
    const first = declared.get(plugin.name);
    if (first !== undefined)
      issues.push({
        path: ['plugins', i, 'name'],
        message: `duplicate plugin name "${plugin.name}" (also plugins[${first}])`,
      });
    else declared.set(plugin.name, i);
  });
  config.routes.forEach((route, i) => {
    route.plugins.forEach((entry, j) => {
      if (!declared.has(entry.name))
        issues.push({
          path: ['routes', i, 'plugins', j, 'name'],
          message: `unknown plugin "${entry.name}" (declare it under plugins: with its module)`,
        });
    });
  });
}
