/** filesystemUsage against real filesystems: a tmpfs of a known size, and this host's temp directory. */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { promisify } from 'node:util'
import { mountTmpfs, unmountTmpfs } from '../../../tests/helpers/files'
import { filesystemUsage } from './statfs'

const MiB = 1024 * 1024

describe('filesystemUsage', () => {
  let dir: string
  let mountError: string | undefined

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'sentinel-test-statfs-'))
    await mountTmpfs(path.join(dir, 'fs'), 4 * MiB, 'sentinel-test-statfs').catch((err) => {
      mountError = (err as Error).message
    })
  })

  after(async () => {
    if (!mountError) await unmountTmpfs(path.join(dir, 'fs'))
    rmSync(dir, { recursive: true, force: true })
  })

  it('measures a 4 MiB tmpfs exactly, before and after a 1 MiB file', async (t) => {
    if (mountError) return t.skip(`cannot mount a tmpfs here: ${mountError}`)
    const fs = path.join(dir, 'fs')
    assert.deepEqual(await filesystemUsage(fs), { sizeBytes: 4 * MiB, freeBytes: 4 * MiB, usedPercent: 0 })
    writeFileSync(path.join(fs, 'one-mib'), Buffer.alloc(MiB, 1))
    assert.deepEqual(await filesystemUsage(fs), { sizeBytes: 4 * MiB, freeBytes: 3 * MiB, usedPercent: 25 })
  })

  it('agrees with df on an ordinary directory', async () => {
    const { stdout } = await promisify(execFile)('df', ['-B1', '--output=size,avail', dir])
    const [size, avail] = stdout.trim().split('\n')[1].trim().split(/\s+/).map(Number)
    const u = await filesystemUsage(dir)
    assert.equal(u.sizeBytes, size)
    // Other processes write meanwhile: free space agrees to within 64 MiB.
    assert.ok(Math.abs(u.freeBytes - avail) < 64 * MiB, `${u.freeBytes} vs df ${avail}`)
    assert.ok(Math.abs(u.usedPercent - 100 * (1 - avail / size)) < 1)
  })

  it('rejects for a path that is not there', async () => {
    await assert.rejects(filesystemUsage(path.join(dir, 'no-such-dir')), { code: 'ENOENT' })
  })
})
