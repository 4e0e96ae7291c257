import type { TestApp } from './app.js';

/** `/users/:userId` -> `/users/{userId}` (the OpenAPI spelling). */
export const toOpenApiPath = (p: string) => p.replace(/:(\w+)/g, '{$1}');

interface RouterLayer {
  route?: { path: unknown; methods: Record<string, boolean> };
}

/**
 * Every route the Express router actually serves, minus Nest's middleware mounts and the docs
 * themselves, with paths in OpenAPI (`{id}`) or Express (`:id`) spelling.
 */
export function registeredRoutes(t: TestApp, spelling: 'openapi' | 'express' = 'openapi'): { method: string; path: string }[] {
  const router = t.app.getHttpAdapter().getInstance().router as { stack: RouterLayer[] };
  const out = new Map<string, { method: string; path: string }>();
  for (const layer of router.stack) {
    if (!layer.route || typeof layer.route.path !== 'string') continue;
    const methods = Object.keys(layer.route.methods).filter((m) => m !== '_all');
    const path = layer.route.path;
    if (methods.length > 2 && path.includes('*')) continue; // middleware mounted on every method
    if (path === '/docs' || path.startsWith('/docs/') || path.startsWith('/docs-')) continue;
    // Middleware bound to a controller (forRoutes(Controller)) repeats its routes: count each once.
    for (const method of methods) out.set(`${method} ${path}`, { method, path: spelling === 'openapi' ? toOpenApiPath(path) : path });
  }
  return [...out.values()];
}
