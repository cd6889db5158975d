/**
 * The routes a running Sentinel serves, read from the Express routers themselves (Motia's, the
 * Workbench's and Sentinel's own), for `GET /api/routes` (admin): a security review, and the test
 * that proves every one of them refuses an anonymous request, see what is really mounted rather
 * than what someone remembered to list.
 */
import type { Router } from 'express'

export interface RouteEntry {
  method: string
  path: string
  /** public: no key by design; api: Sentinel's API (each route checks its key); framework: Motia's. */
  zone: 'public' | 'api' | 'framework'
}

interface Layer {
  /** Express: the route; connect (the Workbench's Vite server): the mount path, a string. */
  route?: { path: string | string[]; methods: Record<string, boolean> } | string
  name?: string
  handle?: { stack?: Layer[] }
  regexp?: RegExp & { fast_slash?: boolean }
}

/** The mount path of a `use` layer, from the regular expression Express 4 compiled it to. */
function mountPath(layer: Layer): string {
  if (!layer.regexp || layer.regexp.fast_slash) return ''
  // Express 4 compiles `use('/a/b')` to ^\/a\/b\/?(?=\/|$) and `use('/a/*')` to ^\/a\/(.*)\/?(?=\/|$).
  const src = layer.regexp.source.replace(/\\\/\?\(\?=\\\/\|\$\)$/, '')
  return src
    .replace(/^\^/, '')
    .replace(/\(\.\*\)/g, '*')
    .replace(/\\\//g, '/')
}

function walk(stack: Layer[] | undefined, prefix: string, zone: RouteEntry['zone'], out: RouteEntry[]): void {
  for (const layer of stack ?? []) {
    if (typeof layer.route === 'string') {
      // A connect middleware: it serves everything under its mount path.
      out.push({ method: 'ALL', path: prefix + layer.route, zone })
    } else if (layer.route) {
      const paths = Array.isArray(layer.route.path) ? layer.route.path : [layer.route.path]
      for (const p of paths)
        for (const m of Object.keys(layer.route.methods))
          if (m !== '_all') out.push({ method: m.toUpperCase(), path: prefix + p, zone })
    } else if (layer.handle?.stack) {
      walk(layer.handle.stack, prefix + mountPath(layer), zone, out)
    } else {
      const at = mountPath(layer)
      // A middleware mounted on a path serves everything under it (the Workbench's Vite server).
      if (at) out.push({ method: 'ALL', path: `${prefix}${at}`, zone })
    }
  }
}

export function routeTable(
  routers: { zone: RouteEntry['zone']; router: Router | { stack?: unknown[] } | undefined }[],
): RouteEntry[] {
  const out: RouteEntry[] = []
  for (const { zone, router } of routers) walk((router as { stack?: Layer[] } | undefined)?.stack, '', zone, out)
  const seen = new Set<string>()
  return out.filter((r) => {
    const key = `${r.method} ${r.path}`
    if (seen.has(key)) return false
    seen.add(key)
    return true
  })
}
