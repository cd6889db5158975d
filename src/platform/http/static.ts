/**
 * Serves the dashboard (public/) from the main process: `/` and `/dashboard.html`, plus the other
 * files in public/ and its subfolders (`/js/main.js`...). The set of files is read once at start, so
 * a request can never name a path outside public/.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs'
import path from 'node:path'
import type { Router } from 'express'

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
}

/** The dashboard's policy: its own scripts and styles only (no inline code), its own origin only. */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ')

export function mountPublic(app: Router, publicDir: string): void {
  let names: string[] = []
  try {
    // Subfolders too (public/js/*.js: the dashboard's ES modules), as URL paths with forward slashes.
    names = readdirSync(publicDir, { recursive: true })
      .map((n) => String(n).split(path.sep).join('/'))
      .filter((n) => statSync(path.join(publicDir, n)).isFile() && TYPES[path.extname(n)])
  } catch {
    return
  }
  const send =
    (name: string) => (_req: unknown, res: { setHeader(k: string, v: string): void; end(b: Buffer): void }) => {
      // Read per request: small files, and an edited dashboard shows without a restart.
      res.setHeader('Content-Type', TYPES[path.extname(name)])
      res.setHeader('Cache-Control', 'no-cache')
      res.setHeader('X-Content-Type-Options', 'nosniff')
      // The page loads only its own files and talks only to this origin; no frame may embed it.
      if (name.endsWith('.html')) res.setHeader('Content-Security-Policy', DASHBOARD_CSP)
      res.end(readFileSync(path.join(publicDir, name)))
    }
  for (const name of names) app.get(`/${name}`, send(name))
  if (names.includes('dashboard.html')) app.get('/', send('dashboard.html'))
}
