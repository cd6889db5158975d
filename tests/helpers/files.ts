/** File-tree helpers for tests that check a cleaning and its rollback byte for byte. */
import { createHash } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'

export const sha256File = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex')

/** Every regular file under `dir` (relative path → SHA-256), leaving out the quarantine. */
export function treeHashes(dir: string): Record<string, string> {
  const out: Record<string, string> = {}
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.name === '.quarantine') continue
      const p = path.join(d, e.name)
      if (e.isDirectory()) walk(p)
      else if (e.isFile()) out[path.relative(dir, p)] = sha256File(p)
    }
  }
  walk(dir)
  return out
}
