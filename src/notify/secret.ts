/**
 * Credentials in the routing file are references, never values: `{ env: NAME }` reads the main
 * process's environment, `{ file: /path }` a file (a mounted secret). A routing file can then be
 * committed and reviewed, and the values stay where the operator keeps secrets.
 */
import { readFileSync } from 'node:fs'
import { z } from 'zod'

export const secretRef = z.union([
  z.object({ env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name') }).strict(),
  z.object({ file: z.string().min(1) }).strict(),
])
export type SecretRef = z.infer<typeof secretRef>

/** Reads a reference; throws naming the variable or file when it is empty or missing. */
export type SecretReader = (ref: SecretRef, what: string) => string

export function secretReader(env: NodeJS.ProcessEnv): SecretReader {
  return (ref, what) => {
    if ('env' in ref) {
      const v = env[ref.env]
      if (!v) throw new Error(`${what}: environment variable ${ref.env} is not set`)
      return v
    }
    let v: string
    try {
      v = readFileSync(ref.file, 'utf8').trim()
    } catch (err) {
      throw new Error(`${what}: cannot read ${ref.file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`)
    }
    if (!v) throw new Error(`${what}: ${ref.file} is empty`)
    return v
  }
}

/**
 * Every secret reference inside a receiver's settings, with its path (`pagerduty.routing_key`):
 * the start reads them all while the environment still holds them.
 */
export function secretRefsIn(value: unknown, path = ''): [string, SecretRef][] {
  if (!value || typeof value !== 'object') return []
  const ref = secretRef.safeParse(value)
  if (ref.success) return [[path, ref.data]]
  return Object.entries(value as Record<string, unknown>).flatMap(([k, v]) =>
    secretRefsIn(v, path ? `${path}.${k}` : k),
  )
}
