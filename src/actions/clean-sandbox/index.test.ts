import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, beforeEach, describe, it } from 'node:test'
import { getAction } from '../catalog'
import {
  CLEANABLE_DIRS,
  createCleanSandbox,
  incidentQuarantine,
  purgeIncidentQuarantine,
  purgeQuarantine,
  SandboxRefusedError,
} from './index'

/** Every entry under `dir`: type, mode, and content hash or link target; links never followed. */
function fingerprint(dir: string): Record<string, string> {
  const out: Record<string, string> = {}
  if (!existsSync(dir)) return out
  const walk = (rel: string) => {
    for (const name of readdirSync(path.join(dir, rel)).sort()) {
      const r = path.join(rel, name)
      const p = path.join(dir, r)
      const st = lstatSync(p)
      const mode = (st.mode & 0o7777).toString(8)
      if (st.isSymbolicLink()) out[r] = `link ${readlinkSync(p)}`
      else if (st.isDirectory()) {
        out[r] = `dir ${mode}`
        walk(r)
      } else out[r] = `file ${mode} ${createHash('sha256').update(readFileSync(p)).digest('hex')}`
    }
  }
  walk('')
  return out
}

const nonPlaceholder = (dir: string) => readdirSync(dir).filter((n) => n !== '.gitkeep')

describe('clean_sandbox', () => {
  let tmp: string
  let root: string
  let outside: string
  let outsideBefore: Record<string, string>
  const incident = () => `inc_test_${randomBytes(4).toString('hex')}`

  function buildTree() {
    rmSync(root, { recursive: true, force: true })
    for (const d of ['logs', 'temp', 'cache', 'data']) {
      mkdirSync(path.join(root, d), { recursive: true })
      writeFileSync(path.join(root, d, '.gitkeep'), '')
    }
    writeFileSync(path.join(root, 'logs', 'app.log'), randomBytes(4000))
    mkdirSync(path.join(root, 'logs', 'old', 'older'), { recursive: true })
    writeFileSync(path.join(root, 'logs', 'old', 'app.1.log'), randomBytes(2000))
    writeFileSync(path.join(root, 'logs', 'old', 'older', 'app.2.log'), randomBytes(1000))
    writeFileSync(path.join(root, 'logs', 'rotate.sh'), '#!/bin/sh\necho rotate\n')
    chmodSync(path.join(root, 'logs', 'rotate.sh'), 0o750)
    // Links pointing outside the sandbox: the links may move, their targets must never change.
    symlinkSync(path.join(outside, 'secret.txt'), path.join(root, 'logs', 'escape-file'))
    symlinkSync(outside, path.join(root, 'temp', 'escape-dir'))
    symlinkSync('../../outside/secret.txt', path.join(root, 'temp', 'escape-relative'))
    mkdirSync(path.join(root, 'temp', 'nested', 'deep'), { recursive: true })
    writeFileSync(path.join(root, 'temp', 'nested', 'deep', 'blob.bin'), randomBytes(50_000))
    writeFileSync(path.join(root, 'cache', 'entry'), randomBytes(3000))
    chmodSync(path.join(root, 'cache', 'entry'), 0o600)
    writeFileSync(path.join(root, 'data', 'db.sqlite'), randomBytes(8000))
    mkdirSync(path.join(root, 'data', 'keep'))
    writeFileSync(path.join(root, 'data', 'keep', 'important.txt'), 'do not touch')
  }

  before(() => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'sentinel-test-sandbox-'))
    root = path.join(tmp, 'sandbox')
    outside = path.join(tmp, 'outside')
    mkdirSync(outside)
    writeFileSync(path.join(outside, 'secret.txt'), 'outside the sandbox')
    writeFileSync(path.join(outside, 'other.txt'), randomBytes(100))
    outsideBefore = fingerprint(outside)
  })
  beforeEach(buildTree)
  after(() => rmSync(tmp, { recursive: true, force: true }))

  it('is registered in the catalog with medium risk and rejects data/ as a directory', () => {
    const action = getAction('clean_sandbox')
    assert.ok(action)
    assert.equal(action.risk, 'medium')
    assert.equal(action.params.safeParse({ directories: ['data'] }).success, false)
    assert.equal(action.params.safeParse({ directories: ['../x'] }).success, false)
    assert.equal(action.params.safeParse({}).success, true)
    assert.equal(action.params.safeParse({ directories: ['logs', 'cache'], maxBytes: 10 }).success, true)
  })

  it('snapshots files with sizes and sha256, per-directory totals, without following links', async () => {
    const action = createCleanSandbox({ sandboxDir: root })
    const snap = (await action.snapshot({}, { incidentId: incident(), actor: 'test' })) as any
    assert.equal(snap.sandbox, root)
    assert.equal(snap.bytesPerDirectory.cache, 3000)
    assert.equal(
      snap.directories.temp.bytes,
      50_000 +
        lstatSync(path.join(root, 'temp', 'escape-dir')).size +
        lstatSync(path.join(root, 'temp', 'escape-relative')).size,
    )
    const appLog = snap.directories.logs.listed.find((f: any) => f.path === 'app.log')
    assert.equal(appLog.bytes, 4000)
    assert.equal(
      appLog.sha256,
      createHash('sha256')
        .update(readFileSync(path.join(root, 'logs', 'app.log')))
        .digest('hex'),
    )
    const link = snap.directories.logs.listed.find((f: any) => f.path === 'escape-file')
    assert.equal(link.type, 'symlink')
    assert.equal(link.target, path.join(outside, 'secret.txt'))
    assert.equal(link.sha256, undefined)
    // The walk did not go through the directory link into `outside`.
    assert.ok(!snap.directories.temp.listed.some((f: any) => f.path.startsWith('escape-dir/')))
    assert.ok(snap.directories.logs.listed.some((f: any) => f.path === path.join('old', 'older', 'app.2.log')))
    assert.equal(snap.dataBytes, 8000 + 'do not touch'.length)
    assert.equal(
      snap.cleanableBytes,
      snap.bytesPerDirectory.logs + snap.bytesPerDirectory.temp + snap.bytesPerDirectory.cache,
    )

    // Listing and hashing are bounded; the totals still count every file.
    const small = (await createCleanSandbox({ sandboxDir: root, maxListedFiles: 2, maxHashBytes: 1000 }).snapshot(
      { directories: ['logs'] },
      { incidentId: incident(), actor: 'test' },
    )) as any
    assert.equal(small.directories.logs.listed.length, 2)
    assert.equal(small.directories.logs.truncated, true)
    assert.equal(small.bytesPerDirectory.logs, snap.bytesPerDirectory.logs)
    assert.ok(
      small.directories.logs.listed
        .filter((f: any) => f.type === 'file')
        .every((f: any) => f.sha256 === null || f.bytes <= 1000),
    )
  })

  it('moves logs/temp/cache into the quarantine, never data/ nor link targets; verify passes', async () => {
    const action = createCleanSandbox({ sandboxDir: root })
    const ctx = { incidentId: incident(), actor: 'test' }
    const dataBefore = fingerprint(path.join(root, 'data'))
    const verifyBefore = await action.verify({}, ctx)
    assert.equal(verifyBefore.ok, false)

    const result = (await action.execute({}, ctx)) as any
    assert.equal(result.performed, 'cleaned')
    assert.equal(result.perDirectory.cache.bytes, 3000)
    for (const d of CLEANABLE_DIRS) assert.deepEqual(nonPlaceholder(path.join(root, d)), [], `${d} is empty`)
    assert.ok(existsSync(path.join(root, 'logs', '.gitkeep')))
    assert.deepEqual(fingerprint(path.join(root, 'data')), dataBefore)
    assert.deepEqual(fingerprint(outside), outsideBefore)
    // The links themselves are in the quarantine, still pointing where they pointed.
    assert.equal(
      readlinkSync(path.join(result.quarantine, 'moved', 'logs', 'escape-file')),
      path.join(outside, 'secret.txt'),
    )
    assert.ok(result.quarantine.startsWith(path.join(root, '.quarantine') + path.sep))

    const verified = await action.verify({}, ctx)
    assert.equal(verified.ok, true, verified.detail)
  })

  it('does the work once when executed twice for the same incident', async () => {
    const action = createCleanSandbox({ sandboxDir: root })
    const ctx = { incidentId: incident(), actor: 'test' }
    const first = (await action.execute({}, ctx)) as any
    assert.equal(first.performed, 'cleaned')
    writeFileSync(path.join(root, 'logs', 'written-after.log'), 'new')
    const second = (await action.execute({}, ctx)) as any
    assert.equal(second.performed, 'none')
    assert.equal(second.entries, first.entries)
    assert.deepEqual(nonPlaceholder(path.join(root, 'logs')), ['written-after.log'])
  })

  it('rolls back byte for byte: same paths, contents, modes and links', async () => {
    const action = createCleanSandbox({ sandboxDir: root })
    const ctx = { incidentId: incident(), actor: 'test' }
    const before = Object.fromEntries(CLEANABLE_DIRS.map((d) => [d, fingerprint(path.join(root, d))]))
    const executed = await action.execute({}, ctx)
    assert.notDeepEqual(fingerprint(path.join(root, 'logs')), before.logs)
    // A service reopened its log after the cleaning: the original comes back, the newcomer is kept aside.
    writeFileSync(path.join(root, 'logs', 'app.log'), 'reopened')
    const rolled = (await action.rollback!({}, ctx, executed)) as any
    assert.equal(rolled.performed, 'restored')
    assert.equal(rolled.displaced, 1)
    for (const d of CLEANABLE_DIRS)
      assert.deepEqual(fingerprint(path.join(root, d)), before[d], `${d} restored exactly`)
    assert.deepEqual(fingerprint(outside), outsideBefore)
    const again = (await action.rollback!({}, ctx, executed)) as any
    assert.equal(again.performed, 'none')
    assert.deepEqual(fingerprint(path.join(root, 'logs')), before.logs)
  })

  it('cleans only the directories asked for, and verify honours maxBytes', async () => {
    const action = createCleanSandbox({ sandboxDir: root })
    const ctx = { incidentId: incident(), actor: 'test' }
    const logsBefore = fingerprint(path.join(root, 'logs'))
    await action.execute({ directories: ['cache', 'temp'] }, ctx)
    assert.deepEqual(nonPlaceholder(path.join(root, 'cache')), [])
    assert.deepEqual(nonPlaceholder(path.join(root, 'temp')), [])
    assert.deepEqual(fingerprint(path.join(root, 'logs')), logsBefore)
    assert.equal((await action.verify({ directories: ['cache', 'temp'] }, ctx)).ok, true)
    assert.equal((await action.verify({}, ctx)).ok, false, 'logs still hold files')
    assert.equal((await action.verify({ maxBytes: 100_000 }, ctx)).ok, true)
    assert.equal((await action.verify({ maxBytes: 10 }, ctx)).ok, false)
  })

  it('refuses a sandbox that is /, top-level, the project, or reached through a link', async () => {
    const ctx = { incidentId: incident(), actor: 'test' }
    await assert.rejects(createCleanSandbox({ sandboxDir: '/' }).execute({}, ctx), SandboxRefusedError)
    await assert.rejects(createCleanSandbox({ sandboxDir: os.tmpdir() }).execute({}, ctx), SandboxRefusedError)
    await assert.rejects(createCleanSandbox({ sandboxDir: process.cwd() }).execute({}, ctx), SandboxRefusedError)
    await assert.rejects(
      createCleanSandbox({ sandboxDir: path.join(tmp, 'missing') }).execute({}, ctx),
      SandboxRefusedError,
    )
    const linkToRoot = path.join(tmp, 'link-to-root')
    symlinkSync('/', linkToRoot)
    try {
      await assert.rejects(createCleanSandbox({ sandboxDir: linkToRoot }).execute({}, ctx), /filesystem root/)
    } finally {
      rmSync(linkToRoot)
    }
  })

  it('refuses to clean through a cleanable directory replaced by a link to outside', async () => {
    rmSync(path.join(root, 'cache'), { recursive: true })
    symlinkSync(outside, path.join(root, 'cache'))
    const action = createCleanSandbox({ sandboxDir: root })
    const ctx = { incidentId: incident(), actor: 'test' }
    await assert.rejects(action.execute({ directories: ['cache'] }, ctx), /symbolic link/)
    assert.deepEqual(fingerprint(outside), outsideBefore)
  })

  it('purges quarantines older than the retention, removing links without following them', async () => {
    const opts = { sandboxDir: root }
    const action = createCleanSandbox(opts)
    const ctx = { incidentId: incident(), actor: 'test' }
    const result = (await action.execute({}, ctx)) as any
    const kept = await purgeQuarantine(Date.now(), 3_600_000, opts)
    assert.equal(kept.purged.length, 0)
    assert.ok(kept.kept >= 1)
    assert.ok(existsSync(result.quarantine))
    const purged = await purgeQuarantine(new Date(Date.now() + 3_600_001), 3_600_000, opts)
    assert.ok(purged.purged.includes(path.basename(result.quarantine)))
    assert.equal(existsSync(result.quarantine), false)
    assert.deepEqual(fingerprint(outside), outsideBefore)
    // With the quarantine gone there is nothing to restore, and rollback says so.
    const rolled = (await action.rollback!({}, ctx, result)) as any
    assert.equal(rolled.performed, 'none')
  })

  it("purges one incident's quarantine at once: only its files, links as links, and its rollback refused after", async () => {
    buildTree()
    const opts = { sandboxDir: root }
    const action = createCleanSandbox(opts)
    const other = { incidentId: incident(), actor: 'test' }
    const otherResult = (await action.execute({ directories: ['cache'] }, other)) as any
    const ctx = { incidentId: incident(), actor: 'test' }
    const data = fingerprint(path.join(root, 'data'))
    const result = (await action.execute({ directories: ['logs', 'temp'] }, ctx)) as any
    const q = await incidentQuarantine(ctx.incidentId, opts)
    assert.equal(q?.dir, result.quarantine)
    assert.equal(q?.status, 'done')
    assert.equal(q?.dev, lstatSync(root).dev)
    const purge = await purgeIncidentQuarantine(ctx.incidentId, opts)
    assert.equal(purge.performed, 'purged')
    assert.equal(purge.bytes, result.bytes)
    assert.equal(purge.entries, result.entries)
    assert.equal(existsSync(path.join(result.quarantine, 'moved')), false)
    assert.equal((await incidentQuarantine(ctx.incidentId, opts))?.status, 'purged')
    assert.deepEqual(fingerprint(outside), outsideBefore, 'link targets are untouched')
    assert.deepEqual(fingerprint(path.join(root, 'data')), data)
    assert.ok(
      existsSync(path.join(otherResult.quarantine, 'moved', 'cache', 'entry')),
      "another incident's quarantine is kept",
    )
    await assert.rejects(action.rollback!({}, ctx, result), /deleted .* to free the disk: nothing can be restored/)
    assert.equal((await purgeIncidentQuarantine(ctx.incidentId, opts)).performed, 'none', 'once')
    assert.equal((await purgeIncidentQuarantine(incident(), opts)).performed, 'none')
    assert.equal(await incidentQuarantine(incident(), opts), null)
    // A rolled-back cleaning has nothing in quarantine to purge.
    await action.rollback!({}, other, otherResult)
    assert.match((await purgeIncidentQuarantine(other.incidentId, opts)).reason!, /rolled back/)
  })

  it('uses a configured quarantine directory on the same filesystem', async () => {
    const quarantineDir = path.join(tmp, 'q')
    const action = createCleanSandbox({ sandboxDir: root, quarantineDir })
    const ctx = { incidentId: 'weird/../../id', actor: 'test' }
    const before = fingerprint(path.join(root, 'logs'))
    const result = (await action.execute({ directories: ['logs'] }, ctx)) as any
    // An id with path characters is hashed: the quarantine stays inside its directory.
    assert.equal(path.dirname(result.quarantine), quarantineDir)
    await action.rollback!({}, ctx, result)
    assert.deepEqual(fingerprint(path.join(root, 'logs')), before)
    rmSync(quarantineDir, { recursive: true, force: true })
    await assert.rejects(
      createCleanSandbox({ sandboxDir: root, quarantineDir: path.join(root, 'logs', 'q') }).execute({}, ctx),
      SandboxRefusedError,
    )
  })
})
