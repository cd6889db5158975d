/**
 * clean_sandbox: empties the sandbox's logs/, temp/ and cache/ (never data/) by MOVING their
 * entries into a per-incident quarantine on the same filesystem, so a rollback renames them back
 * byte for byte (same inodes, contents, modes). The quarantine is purged after a retention time
 * (`purgeQuarantine`), or at once for one incident (`purgeIncidentQuarantine`) when its disk
 * alert's filesystem, which the quarantine shares, stays over its threshold after the cleaning.
 *
 * Safety: the sandbox root is resolved with realpath and refused when it is `/`, a system or home
 * directory, or an ancestor of the project. Nothing is ever followed through a symbolic link: the
 * walk uses lstat, a link is moved as itself (its target is never touched), a cleanable directory
 * that is itself a link is refused, and mount points inside are skipped.
 */
import { createHash } from 'node:crypto'
import { constants } from 'node:fs'
import {
  lstat,
  mkdir,
  open,
  readdir,
  readFile,
  readlink,
  realpath,
  rename,
  rm,
  stat,
  writeFile,
} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { z } from 'zod'
import { getConfig } from '../../platform/config/index'
import { filesystemUsage } from '../../platform/host/statfs'
import { incidentFileKey, numberSetting, type ActionDefinition } from '../types'

export const CLEANABLE_DIRS = ['logs', 'temp', 'cache'] as const
export type CleanableDir = (typeof CLEANABLE_DIRS)[number]
/** Empty placeholder files kept so the directory stays in version control. */
const PLACEHOLDERS = new Set(['.gitkeep'])
const QUARANTINE_NAME = '.quarantine'

const params = z.strictObject({
  directories: z.array(z.enum(CLEANABLE_DIRS)).min(1).max(3).optional(),
  /** verify passes when the cleaned directories hold at most this many bytes; default: empty. */
  maxBytes: z.number().int().min(0).optional(),
})
export type CleanSandboxParams = z.infer<typeof params>

export interface CleanSandboxOptions {
  /** The sandbox root; default SANDBOX_DIR from the config, relative to the project root. */
  sandboxDir?: string
  /** Where moved entries go; default `<sandbox>/.quarantine`. Must be on the sandbox's filesystem. */
  quarantineDir?: string
  /** Files listed (with hashes) in a snapshot, per directory; totals always count every file. */
  maxListedFiles?: number
  /** Bytes hashed per snapshot at most; files past the budget are listed with sha256 null. */
  maxHashBytes?: number
}

export class SandboxRefusedError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'SandboxRefusedError'
  }
}

interface ResolvedSandbox {
  root: string
  quarantine: string
}

interface ManifestEntry {
  dir: CleanableDir
  name: string
  type: EntryType
  bytes: number
  state: 'planned' | 'moved' | 'vanished' | 'restored' | 'missing'
}

interface Manifest {
  version: 1
  incidentId: string
  sandbox: string
  status: 'moving' | 'done' | 'rolled_back' | 'purged'
  directories: CleanableDir[]
  createdAt: string
  finishedAt?: string
  rolledBackAt?: string
  purgedAt?: string
  skipped: Array<{ path: string; reason: string }>
  entries: ManifestEntry[]
}

type EntryType = 'file' | 'dir' | 'symlink' | 'other'

const SYSTEM_DIRS = [
  '/proc',
  '/sys',
  '/dev',
  '/etc',
  '/boot',
  '/usr',
  '/bin',
  '/sbin',
  '/lib',
  '/lib32',
  '/lib64',
  '/run',
  '/var/lib/docker',
  '/var/lib/containerd',
]

function isWithin(child: string, parent: string): boolean {
  const rel = path.relative(parent, child)
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel))
}

function entryType(st: { isFile(): boolean; isDirectory(): boolean; isSymbolicLink(): boolean }): EntryType {
  if (st.isSymbolicLink()) return 'symlink'
  if (st.isDirectory()) return 'dir'
  if (st.isFile()) return 'file'
  return 'other'
}

async function lstatOrNull(p: string) {
  try {
    return await lstat(p)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw err
  }
}

async function realpathOrSelf(p: string): Promise<string> {
  try {
    return await realpath(p)
  } catch {
    return path.resolve(p)
  }
}

/** Resolves and checks the sandbox root and the quarantine directory (created if needed). */
export async function resolveSandbox(
  opts: CleanSandboxOptions = {},
  createQuarantine = true,
): Promise<ResolvedSandbox> {
  const cfg = getConfig()
  const configured = opts.sandboxDir ?? cfg.SANDBOX_DIR
  const abs = path.resolve(opts.sandboxDir ? process.cwd() : cfg.projectRoot, configured)
  let root: string
  try {
    root = await realpath(abs)
  } catch {
    throw new SandboxRefusedError(`sandbox ${abs} does not exist`)
  }
  if (!(await stat(root)).isDirectory()) throw new SandboxRefusedError(`sandbox ${root} is not a directory`)
  if (root === path.parse(root).root)
    throw new SandboxRefusedError(`sandbox resolves to the filesystem root (${root}); refusing`)
  if (root.split(path.sep).filter(Boolean).length < 2)
    throw new SandboxRefusedError(`sandbox ${root} is a top-level directory; refusing`)
  for (const sys of SYSTEM_DIRS) {
    if (isWithin(root, sys))
      throw new SandboxRefusedError(`sandbox ${root} is inside the system directory ${sys}; refusing`)
  }
  for (const guarded of [os.homedir(), cfg.projectRoot, process.cwd()]) {
    const real = await realpathOrSelf(guarded)
    if (isWithin(real, root))
      throw new SandboxRefusedError(`sandbox ${root} contains ${real} (home or project); refusing`)
  }
  const present = await Promise.all(
    CLEANABLE_DIRS.map(async (d) => (await lstatOrNull(path.join(root, d)))?.isDirectory() ?? false),
  )
  if (!present.some(Boolean))
    throw new SandboxRefusedError(`${root} has none of ${CLEANABLE_DIRS.join(', ')}: it does not look like a sandbox`)

  const configuredQuarantine = opts.quarantineDir ? path.resolve(opts.quarantineDir) : path.join(root, QUARANTINE_NAME)
  const checkQuarantine = (q: string) => {
    if (isWithin(root, q)) throw new SandboxRefusedError(`quarantine ${q} contains the sandbox; refusing`)
    for (const d of [...CLEANABLE_DIRS, 'data']) {
      if (isWithin(q, path.join(root, d))) throw new SandboxRefusedError(`quarantine ${q} is inside ${d}/; refusing`)
    }
  }
  checkQuarantine(configuredQuarantine)
  if (!createQuarantine && !(await lstatOrNull(configuredQuarantine))) return { root, quarantine: configuredQuarantine }
  await mkdir(configuredQuarantine, { recursive: true, mode: 0o700 })
  const qst = await lstat(configuredQuarantine)
  if (!qst.isDirectory())
    throw new SandboxRefusedError(`quarantine ${configuredQuarantine} is not a real directory (a link?); refusing`)
  const quarantine = await realpath(configuredQuarantine)
  checkQuarantine(quarantine)
  // Moves must be renames: a copy across filesystems could not restore inodes and modes exactly.
  if (qst.dev !== (await stat(root)).dev)
    throw new SandboxRefusedError(`quarantine ${quarantine} is on another filesystem than the sandbox`)
  return { root, quarantine }
}

/**
 * The cleanable directory as a real directory inside the root, or null when absent. A directory
 * replaced by a link (which could lead anywhere) is refused.
 */
async function cleanableDir(root: string, dir: CleanableDir): Promise<{ path: string; dev: number } | null> {
  const p = path.join(root, dir)
  const st = await lstatOrNull(p)
  if (!st) return null
  if (st.isSymbolicLink()) throw new SandboxRefusedError(`${p} is a symbolic link; refusing to clean through it`)
  if (!st.isDirectory()) throw new SandboxRefusedError(`${p} is not a directory`)
  if ((await realpath(p)) !== p) throw new SandboxRefusedError(`${p} resolves outside the sandbox`)
  return { path: p, dev: st.dev }
}

/** Bytes under a path, never following links (a link counts as itself) nor crossing mounts. */
async function treeBytes(p: string, dev: number, budget = { entries: 200_000 }): Promise<number> {
  const st = await lstatOrNull(p)
  if (!st) return 0
  if (!st.isDirectory()) return st.size
  if (st.dev !== dev) return 0
  let total = 0
  for (const name of await readdir(p).catch(() => [] as string[])) {
    if (--budget.entries < 0) break
    total += await treeBytes(path.join(p, name), dev, budget)
  }
  return total
}

async function sha256File(p: string): Promise<string | null> {
  // O_NOFOLLOW: a file swapped for a link after the lstat is not read through; O_NONBLOCK: a FIFO
  // cannot hang the snapshot.
  let fh
  try {
    fh = await open(p, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
  } catch {
    return null
  }
  try {
    const st = await fh.stat()
    if (!st.isFile()) return null
    const hash = createHash('sha256')
    const buf = Buffer.alloc(1 << 16)
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, null)
      if (bytesRead === 0) break
      hash.update(buf.subarray(0, bytesRead))
    }
    return hash.digest('hex')
  } finally {
    await fh.close()
  }
}

export interface ListedFile {
  path: string
  type: EntryType
  bytes: number
  mode: string
  sha256?: string | null
  target?: string
}

export interface DirListing {
  exists: boolean
  bytes: number
  files: number
  listed: ListedFile[]
  truncated: boolean
}

/** Every entry below `dir` (relative paths), with sizes, modes and hashes; links are not followed. */
export async function listDir(
  dir: string,
  opts: { maxListed: number; hashBudget: { bytes: number }; hash: boolean },
): Promise<DirListing> {
  const top = await lstatOrNull(dir)
  const out: DirListing = { exists: !!top?.isDirectory(), bytes: 0, files: 0, listed: [], truncated: false }
  if (!top?.isDirectory()) return out
  const stack = ['']
  let seen = 0
  while (stack.length > 0) {
    const rel = stack.pop()!
    let names: string[]
    try {
      names = (await readdir(path.join(dir, rel))).sort()
    } catch {
      continue
    }
    for (const name of names) {
      if (++seen > 200_000) {
        out.truncated = true
        return out
      }
      const relPath = path.join(rel, name)
      if (rel === '' && PLACEHOLDERS.has(name)) continue
      const st = await lstatOrNull(path.join(dir, relPath))
      if (!st) continue
      const type = entryType(st)
      if (type === 'dir') {
        if (st.dev === top.dev) stack.push(relPath)
        continue
      }
      out.bytes += st.size
      out.files++
      if (out.listed.length >= opts.maxListed) {
        out.truncated = true
        continue
      }
      const item: ListedFile = { path: relPath, type, bytes: st.size, mode: (st.mode & 0o7777).toString(8) }
      if (type === 'symlink') item.target = await readlink(path.join(dir, relPath)).catch(() => '?')
      if (type === 'file' && opts.hash) {
        if (opts.hashBudget.bytes >= st.size) {
          opts.hashBudget.bytes -= st.size
          item.sha256 = await sha256File(path.join(dir, relPath))
        } else {
          item.sha256 = null
        }
      }
      out.listed.push(item)
    }
  }
  return out
}

function incidentDir(quarantine: string, incidentId: string): string {
  return path.join(quarantine, incidentFileKey(incidentId))
}

async function readManifest(dir: string): Promise<Manifest | undefined> {
  try {
    return JSON.parse(await readFile(path.join(dir, 'manifest.json'), 'utf8')) as Manifest
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
}

async function writeManifest(dir: string, manifest: Manifest): Promise<void> {
  const file = path.join(dir, 'manifest.json')
  const tmp = `${file}.tmp`
  await writeFile(tmp, JSON.stringify(manifest, null, 1), { mode: 0o600 })
  await rename(tmp, file)
}

function summarize(manifest: Manifest) {
  const perDirectory: Record<string, { entries: number; bytes: number }> = {}
  for (const d of manifest.directories) perDirectory[d] = { entries: 0, bytes: 0 }
  for (const e of manifest.entries) {
    if (e.state !== 'moved' && e.state !== 'restored') continue
    perDirectory[e.dir].entries++
    perDirectory[e.dir].bytes += e.bytes
  }
  const moved = manifest.entries.filter((e) => e.state === 'moved' || e.state === 'restored')
  return {
    entries: moved.length,
    bytes: moved.reduce((s, e) => s + e.bytes, 0),
    perDirectory,
    sample: moved.slice(0, 20).map((e) => `${e.dir}/${e.name}`),
  }
}

async function plan(root: string, directories: CleanableDir[]): Promise<Pick<Manifest, 'entries' | 'skipped'>> {
  const entries: ManifestEntry[] = []
  const skipped: Manifest['skipped'] = []
  for (const dir of directories) {
    const d = await cleanableDir(root, dir)
    if (!d) continue
    for (const name of (await readdir(d.path)).sort()) {
      if (PLACEHOLDERS.has(name)) continue
      const st = await lstatOrNull(path.join(d.path, name))
      if (!st) continue
      const type = entryType(st)
      // A mount point cannot be renamed, and what is mounted there is not the sandbox's to empty.
      if (type === 'dir' && st.dev !== d.dev) {
        skipped.push({ path: `${dir}/${name}`, reason: 'mount point' })
        continue
      }
      entries.push({
        dir,
        name,
        type,
        bytes: type === 'dir' ? await treeBytes(path.join(d.path, name), d.dev) : st.size,
        state: 'planned',
      })
    }
  }
  return { entries, skipped }
}

async function moveEntries(root: string, incDir: string, manifest: Manifest): Promise<void> {
  for (const dir of manifest.directories) {
    const d = await cleanableDir(root, dir)
    const dest = path.join(incDir, 'moved', dir)
    await mkdir(dest, { recursive: true, mode: 0o700 })
    for (const e of manifest.entries) {
      if (e.dir !== dir || e.state !== 'planned') continue
      const to = path.join(dest, e.name)
      if (await lstatOrNull(to)) {
        e.state = 'moved' // moved by an earlier attempt that stopped before recording it
        continue
      }
      if (!d || !(await lstatOrNull(path.join(d.path, e.name)))) {
        e.state = 'vanished'
        continue
      }
      // rename() acts on the directory entry itself: a link is moved, never its target.
      try {
        await rename(path.join(d.path, e.name), to)
        e.state = 'moved'
      } catch (err) {
        // Gone between the check and the move (deleted by its owner, or another cleaning took it).
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
        e.state = 'vanished'
      }
    }
  }
}

export function createCleanSandbox(opts: CleanSandboxOptions = {}): ActionDefinition<CleanSandboxParams> {
  const maxListed = opts.maxListedFiles ?? 100
  const maxHashBytes = opts.maxHashBytes ?? 256 * 1024 * 1024

  return {
    id: 'clean_sandbox',
    risk: 'medium',
    description:
      "Empty the sandbox logs/, temp/ and cache/ directories (never data/) by moving their contents to a quarantine, kept for rollback until it is purged after SANDBOX_QUARANTINE_RETENTION_SECONDS; unless the disk stays full after the cleaning: when a disk alert is still over its threshold and the quarantine is on that filesystem, this incident's quarantine is deleted to free the space and the cleaning can no longer be undone. Params: optional directories (subset of logs, temp, cache), optional maxBytes the cleaned directories may still hold for verification to pass (default: empty).",
    params,

    async snapshot(p) {
      const { root } = await resolveSandbox(opts, false)
      const directories = p.directories ?? [...CLEANABLE_DIRS]
      const hashBudget = { bytes: maxHashBytes }
      const listings: Record<string, DirListing> = {}
      for (const dir of directories) {
        await cleanableDir(root, dir)
        listings[dir] = await listDir(path.join(root, dir), { maxListed, hashBudget, hash: true })
      }
      const data = await listDir(path.join(root, 'data'), { maxListed: 0, hashBudget, hash: false })
      const filesystem = await filesystemUsage(root).catch(() => undefined)
      const bytesPerDirectory = Object.fromEntries(Object.entries(listings).map(([d, l]) => [d, l.bytes]))
      return {
        sandbox: root,
        directories: listings,
        bytesPerDirectory,
        cleanableBytes: Object.values(listings).reduce((s, l) => s + l.bytes, 0),
        dataBytes: data.bytes,
        filesystem,
      }
    },

    async execute(p, ctx) {
      const { root, quarantine } = await resolveSandbox(opts)
      const directories = p.directories ?? [...CLEANABLE_DIRS]
      const incDir = incidentDir(quarantine, ctx.incidentId)
      let manifest = await readManifest(incDir)
      if (manifest && manifest.status !== 'moving') {
        return {
          performed: 'none',
          reason: `already cleaned for this incident (${manifest.status})`,
          sandbox: root,
          quarantine: incDir,
          ...summarize(manifest),
        }
      }
      if (!manifest) {
        await mkdir(incDir, { recursive: true, mode: 0o700 })
        manifest = {
          version: 1,
          incidentId: ctx.incidentId,
          sandbox: root,
          status: 'moving',
          directories,
          createdAt: new Date().toISOString(),
          ...(await plan(root, directories)),
        }
        // The plan is recorded before anything moves: a retry finishes this plan, never a new one.
        await writeManifest(incDir, manifest)
      }
      try {
        await moveEntries(root, incDir, manifest)
      } finally {
        await writeManifest(incDir, manifest)
      }
      manifest.status = 'done'
      manifest.finishedAt = new Date().toISOString()
      await writeManifest(incDir, manifest)
      return {
        performed: 'cleaned',
        sandbox: root,
        quarantine: incDir,
        directories,
        skipped: manifest.skipped,
        ...summarize(manifest),
      }
    },

    async verify(p) {
      const { root } = await resolveSandbox(opts, false)
      const directories = p.directories ?? [...CLEANABLE_DIRS]
      const perDirectory: Record<string, { bytes: number; files: number }> = {}
      let bytes = 0
      let files = 0
      for (const dir of directories) {
        const l = await listDir(path.join(root, dir), { maxListed: 0, hashBudget: { bytes: 0 }, hash: false })
        // Empty subdirectories count as entries too: "empty" means nothing left but placeholders.
        const entries = l.exists ? (await readdir(path.join(root, dir))).filter((n) => !PLACEHOLDERS.has(n)).length : 0
        perDirectory[dir] = { bytes: l.bytes, files: Math.max(l.files, entries) }
        bytes += l.bytes
        files += perDirectory[dir].files
      }
      const data = { sandbox: root, bytes, files, perDirectory, maxBytes: p.maxBytes ?? null }
      if (p.maxBytes === undefined) {
        return files === 0
          ? { ok: true, detail: `${directories.join(', ')} are empty`, data }
          : { ok: false, detail: `${files} entries (${bytes} bytes) remain in ${directories.join(', ')}`, data }
      }
      return bytes <= p.maxBytes
        ? { ok: true, detail: `${directories.join(', ')} hold ${bytes} bytes (at most ${p.maxBytes})`, data }
        : { ok: false, detail: `${directories.join(', ')} hold ${bytes} bytes, over ${p.maxBytes}`, data }
    },

    async rollback(_p, ctx) {
      const { root, quarantine } = await resolveSandbox(opts, false)
      const incDir = incidentDir(quarantine, ctx.incidentId)
      const manifest = await readManifest(incDir)
      if (!manifest) return { performed: 'none', reason: 'nothing was cleaned for this incident' }
      if (manifest.status === 'rolled_back')
        return { performed: 'none', reason: 'already restored', ...summarize(manifest) }
      if (manifest.status === 'purged')
        throw new SandboxRefusedError(
          `the quarantined files were deleted at ${manifest.purgedAt} to free the disk: nothing can be restored`,
        )
      if (manifest.sandbox !== root)
        throw new SandboxRefusedError(`the quarantine was made for ${manifest.sandbox}, not ${root}`)
      let restored = 0
      let displaced = 0
      let missing = 0
      try {
        for (const dir of manifest.directories) {
          const target = path.join(root, dir)
          if (!(await lstatOrNull(target))) await mkdir(target, { recursive: true })
          await cleanableDir(root, dir)
          for (const e of manifest.entries) {
            if (e.dir !== dir || e.state !== 'moved') continue
            const from = path.join(incDir, 'moved', dir, e.name)
            const to = path.join(target, e.name)
            if (!(await lstatOrNull(from))) {
              e.state = 'missing'
              missing++
              continue
            }
            // Something took the name since the cleaning (a service reopened its log): keep it aside
            // in the quarantine rather than lose it, and put the original back.
            if (await lstatOrNull(to)) {
              const aside = path.join(incDir, 'displaced', dir)
              await mkdir(aside, { recursive: true, mode: 0o700 })
              await rename(to, path.join(aside, `${e.name}.${Date.now()}`))
              displaced++
            }
            await rename(from, to)
            e.state = 'restored'
            restored++
          }
        }
      } finally {
        await writeManifest(incDir, manifest)
      }
      manifest.status = 'rolled_back'
      manifest.rolledBackAt = new Date().toISOString()
      await writeManifest(incDir, manifest)
      return { performed: 'restored', sandbox: root, restored, displaced, missing }
    },
  }
}

export const cleanSandbox = createCleanSandbox()

/** How long quarantined files are kept: SANDBOX_QUARANTINE_RETENTION_SECONDS, default a day. */
export function quarantineRetentionMs(): number {
  return numberSetting('SANDBOX_QUARANTINE_RETENTION_SECONDS') * 1000
}

/**
 * Deletes the quarantine of every cleaning that finished (or was rolled back) more than
 * `retentionMs` before `now`. Links in the quarantine are removed as links, never followed.
 */
export async function purgeQuarantine(
  now: number | Date = Date.now(),
  retentionMs = quarantineRetentionMs(),
  opts: CleanSandboxOptions = {},
): Promise<{ purged: string[]; kept: number }> {
  const nowMs = typeof now === 'number' ? now : now.getTime()
  const { quarantine } = await resolveSandbox(opts, false)
  const qst = await lstatOrNull(quarantine)
  if (!qst?.isDirectory()) return { purged: [], kept: 0 }
  const purged: string[] = []
  let kept = 0
  for (const name of await readdir(quarantine)) {
    const p = path.join(quarantine, name)
    const st = await lstatOrNull(p)
    if (!st) continue
    let at = st.mtimeMs
    if (st.isDirectory()) {
      const m = await readManifest(p).catch(() => undefined)
      const stamp = m?.rolledBackAt ?? m?.finishedAt ?? m?.createdAt
      if (stamp && Number.isFinite(Date.parse(stamp))) at = Date.parse(stamp)
    }
    if (nowMs - at >= retentionMs) {
      await rm(p, { recursive: true, force: true })
      purged.push(name)
    } else {
      kept++
    }
  }
  return { purged, kept }
}

/** This incident's quarantine and the device of its filesystem; null when nothing was quarantined. */
export async function incidentQuarantine(
  incidentId: string,
  opts: CleanSandboxOptions = {},
): Promise<{ dir: string; dev: number; status: Manifest['status'] } | null> {
  const { quarantine } = await resolveSandbox(opts, false)
  const dir = incidentDir(quarantine, incidentId)
  const st = await lstatOrNull(dir)
  const manifest = st?.isDirectory() ? await readManifest(dir) : undefined
  return manifest ? { dir, dev: st!.dev, status: manifest.status } : null
}

export interface IncidentPurge {
  performed: 'purged' | 'none'
  reason?: string
  quarantine: string
  /** Entries of the cleaned directories deleted, and their bytes (file sizes). */
  entries: number
  bytes: number
  /** What the filesystem gained, by statfs (blocks, so a little more than `bytes`). */
  filesystemFreedBytes?: number
}

/**
 * Deletes this incident's quarantined files now, not at the end of the retention: moved within a
 * filesystem they free nothing, so a disk that stays full after the cleaning needs them gone. Only
 * this incident's files; the manifest stays (status purged) so a rollback says why nothing comes
 * back. The cleaning cannot be undone afterwards.
 */
export async function purgeIncidentQuarantine(
  incidentId: string,
  opts: CleanSandboxOptions = {},
): Promise<IncidentPurge> {
  const { root, quarantine } = await resolveSandbox(opts, false)
  const dir = incidentDir(quarantine, incidentId)
  const none = (reason: string): IncidentPurge => ({ performed: 'none', reason, quarantine: dir, entries: 0, bytes: 0 })
  const st = await lstatOrNull(dir)
  if (!st?.isDirectory()) return none('nothing was quarantined for this incident')
  const manifest = await readManifest(dir)
  if (!manifest) return none('the quarantine has no manifest')
  if (manifest.status !== 'done') return none(`the cleaning is ${manifest.status.replace('_', ' ')}`)
  if (manifest.sandbox !== root)
    throw new SandboxRefusedError(`the quarantine was made for ${manifest.sandbox}, not ${root}`)
  const moved = path.join(dir, 'moved')
  const bytes = await treeBytes(moved, st.dev)
  const entries = manifest.entries.filter((e) => e.state === 'moved').length
  const before = await filesystemUsage(dir)
  // Recorded first: a purge that stops halfway leaves a cleaning no rollback pretends to restore.
  manifest.status = 'purged'
  manifest.purgedAt = new Date().toISOString()
  await writeManifest(dir, manifest)
  await rm(moved, { recursive: true, force: true })
  const after = await filesystemUsage(dir)
  return {
    performed: 'purged',
    quarantine: dir,
    entries,
    bytes,
    filesystemFreedBytes: Math.max(0, after.freeBytes - before.freeBytes),
  }
}
