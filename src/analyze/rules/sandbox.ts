/**
 * How much each sandbox directory holds. The walk never follows symbolic links (a link is counted
 * as itself), so a link cannot make the sandbox look bigger or lead the walk outside it.
 */
import { lstat, readdir } from 'node:fs/promises'
import path from 'node:path'
import { type FilesystemUsage, filesystemUsage } from '../../platform/host/statfs'

export const SANDBOX_SUBDIRS = ['logs', 'temp', 'cache', 'data'] as const
export const CLEANABLE_SUBDIRS = ['logs', 'temp', 'cache'] as const

export interface DirUsage {
  bytes: number
  files: number
  /** Entries that could not be read. */
  errors: number
  /** Largest files, relative to the directory. */
  largest: Array<{ path: string; bytes: number }>
}

export async function dirUsage(dir: string, opts: { maxEntries?: number; largest?: number } = {}): Promise<DirUsage> {
  const maxEntries = opts.maxEntries ?? 200_000
  const keep = opts.largest ?? 3
  const usage: DirUsage = { bytes: 0, files: 0, errors: 0, largest: [] }
  let seen = 0
  const stack = ['']
  while (stack.length > 0 && seen < maxEntries) {
    const rel = stack.pop()!
    let entries
    try {
      entries = await readdir(path.join(dir, rel), { withFileTypes: true })
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || rel !== '') usage.errors++
      continue
    }
    for (const e of entries) {
      if (++seen > maxEntries) break
      const childRel = path.join(rel, e.name)
      if (e.isDirectory()) {
        stack.push(childRel)
        continue
      }
      try {
        const st = await lstat(path.join(dir, childRel))
        usage.bytes += st.size
        usage.files++
        if (st.isFile()) {
          usage.largest.push({ path: childRel, bytes: st.size })
          usage.largest.sort((a, b) => b.bytes - a.bytes)
          usage.largest.length = Math.min(usage.largest.length, keep)
        }
      } catch {
        usage.errors++
      }
    }
  }
  return usage
}

export interface SandboxUsage {
  dir: string
  subdirs: Record<(typeof SANDBOX_SUBDIRS)[number], DirUsage>
  cleanableBytes: number
  totalBytes: number
  filesystem?: FilesystemUsage
}

export async function sandboxUsage(dir: string): Promise<SandboxUsage> {
  const entries = await Promise.all(SANDBOX_SUBDIRS.map(async (s) => [s, await dirUsage(path.join(dir, s))] as const))
  const subdirs = Object.fromEntries(entries) as SandboxUsage['subdirs']
  const cleanableBytes = CLEANABLE_SUBDIRS.reduce((sum, s) => sum + subdirs[s].bytes, 0)
  const totalBytes = cleanableBytes + subdirs.data.bytes
  const filesystem = await filesystemUsage(dir).catch(() => undefined)
  return { dir, subdirs, cleanableBytes, totalBytes, filesystem }
}
