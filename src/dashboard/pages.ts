// The dashboard's routes: one page, its stylesheet and its script, as fixed documents any HTTP
// server can mount (the agent's admin listener, the control plane's). The files sit in
// static/ next to this module's source and are read once, when the routes are built; the
// page needs nothing else (no bundler, no CDN) and reads its data from the listener that
// served it: an agent's /api/v1/stats and /api/v1/events, or the control plane's mesh-wide
// /api/v1/mesh/stats and /api/v1/mesh/events (shapes in mesh-stats.ts).

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { StaticPage } from '../observability/admin-server.ts';

/** Where the page reads from: one agent's own view, or every agent's through the control plane. */
export type DashboardSource = 'agent' | 'mesh';

export const DASHBOARD_PATH = '/dashboard';

/** The same from src/dashboard/ and dist/dashboard/: two levels up is the repository root. */
const staticDir = fileURLToPath(new URL('../../src/dashboard/static/', import.meta.url));

// Nothing outside the listener that served the page: no script, style, image or connection elsewhere.
const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'cache-control': 'no-cache',
};

/**
 * GET /dashboard, /dashboard/dashboard.css and /dashboard/dashboard.js. `source` is what the
 * page reads when its URL does not say (`/dashboard?source=mesh` or `?source=agent`).
 */
export function dashboardPages(options: { readonly source: DashboardSource }): StaticPage[] {
  const read = (name: string): string => readFileSync(`${staticDir}${name}`, 'utf8');
  const html = read('index.html').replace('data-default-source="agent"', `data-default-source="${options.source}"`);
  return [
    { path: DASHBOARD_PATH, contentType: 'text/html; charset=utf-8', body: html, headers: SECURITY_HEADERS },
    { path: `${DASHBOARD_PATH}/dashboard.css`, contentType: 'text/css; charset=utf-8', body: read('dashboard.css'), headers: SECURITY_HEADERS },
    { path: `${DASHBOARD_PATH}/dashboard.js`, contentType: 'text/javascript; charset=utf-8', body: read('dashboard.js'), headers: SECURITY_HEADERS },
  ];
}
