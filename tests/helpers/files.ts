/** File-tree helpers: hashes for checking a cleaning and its rollback byte for byte, and tmpfs mounts. */
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdirSync, readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)

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

/** Mounts a tmpfs of `bytes` at `dir` (root only): a small filesystem a test can fill. */
export async function mountTmpfs(dir: string, bytes: number, source = 'sentinel-test-fs'): Promise<void> {
  mkdirSync(dir, { recursive: true })
  await run('mount', ['-t', 'tmpfs', '-o', `size=${bytes}`, source, dir])
}

/** Unmounts it; lazily when something still holds it open. Never throws. */
export async function unmountTmpfs(dir: string): Promise<void> {
  await run('umount', [dir]).catch(() => run('umount', ['-l', dir]).catch(() => {}))
}
