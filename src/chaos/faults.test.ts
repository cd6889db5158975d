/** fillTemp writes only under <sandbox>/temp, bounded; the target gate; the busy loop's argv. */
import assert from 'node:assert/strict'
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, beforeEach, describe, it } from 'node:test'
import type { ContainerInfo } from '../platform/docker/client'
import { busyLoopArgv, BUSY_LOOP_NAME, chaosFileName, fillTemp, FillRefusedError, refusal, removeFill } from './faults'

/** Every path under `dir` with its size; links not followed. */
function tree(dir: string): Record<string, number> {
  const out: Record<string, number> = {}
  const walk = (rel: string) => {
    for (const name of readdirSync(path.join(dir, rel))) {
      const r = path.join(rel, name)
      const st = lstatSync(path.join(dir, r))
      out[r] = st.isDirectory() ? -1 : st.size
      if (st.isDirectory() && !st.isSymbolicLink()) walk(r)
    }
  }
  walk('')
  return out
}

describe('fillTemp', () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'sentinel-test-chaos-fill-'))
  const root = path.join(tmp, 'sandbox')
  const outside = path.join(tmp, 'outside')
  let n = 0
  const faultId = () => `chf_test_${++n}`

  beforeEach(() => {
    rmSync(root, { recursive: true, force: true })
    rmSync(outside, { recursive: true, force: true })
    for (const d of ['temp', 'logs', 'data']) mkdirSync(path.join(root, d), { recursive: true })
    writeFileSync(path.join(root, 'temp', 'existing.tmp'), Buffer.alloc(100_000))
    writeFileSync(path.join(root, 'data', 'db'), 'keep')
    mkdirSync(outside)
    writeFileSync(path.join(outside, 'secret'), 'untouched')
  })
  after(() => rmSync(tmp, { recursive: true, force: true }))

  it('fills temp/ up to the target size, what is there counting, and removes only its file', async () => {
    const before = tree(root)
    const id = faultId()
    const res = await fillTemp({ sandboxDir: root, targetBytes: 3 * 1024 * 1024, faultId: id })
    assert.equal(res.file, path.join(root, 'temp', chaosFileName(id)))
    assert.equal(res.before, 100_000)
    assert.equal(statSync(res.file).size, 3 * 1024 * 1024 - 100_000)
    assert.equal(res.written, statSync(res.file).size)
    assert.equal((lstatSync(res.file).mode & 0o777).toString(8), '600')
    assert.ok(
      res.filesystem && (res.filesystem === '/' || res.file.startsWith(res.filesystem + '/')),
      `the filesystem ${res.filesystem} holds the file`,
    )
    const after = tree(root)
    delete after[path.join('temp', chaosFileName(id))]
    assert.deepEqual(after, before, 'nothing else in the sandbox changed')
    assert.deepEqual(tree(outside), { secret: 9 })

    assert.equal(await removeFill(root, res.file), true)
    assert.deepEqual(tree(root), before)
    assert.equal(await removeFill(root, res.file), false, 'already gone is not an error')
  })

  it('never writes more than the maximum, and refuses when temp/ is already that big', async () => {
    const res = await fillTemp({
      sandboxDir: root,
      targetBytes: 900 * 1024 ** 2,
      faultId: faultId(),
      maxBytes: 2 * 1024 * 1024,
    })
    assert.equal(res.written, 2 * 1024 * 1024)
    await assert.rejects(fillTemp({ sandboxDir: root, targetBytes: 50_000, faultId: faultId() }), FillRefusedError)
  })

  it('stops writing when its signal aborts', async () => {
    const ac = new AbortController()
    ac.abort()
    const res = await fillTemp({ sandboxDir: root, targetBytes: 50 * 1024 ** 2, faultId: faultId(), signal: ac.signal })
    assert.equal(res.written, 0)
  })

  it('refuses a temp/ that is a link out of the sandbox, writing nothing anywhere', async () => {
    rmSync(path.join(root, 'temp'), { recursive: true })
    symlinkSync(outside, path.join(root, 'temp'))
    await assert.rejects(
      fillTemp({ sandboxDir: root, targetBytes: 1024 * 1024, faultId: faultId() }),
      /not a real directory/,
    )
    assert.deepEqual(tree(outside), { secret: 9 })
  })

  it('refuses to remove anything that is not a chaos file directly in temp/', async () => {
    await assert.rejects(removeFill(root, path.join(root, 'data', 'db')), FillRefusedError)
    await assert.rejects(removeFill(root, path.join(root, 'temp', 'existing.tmp')), FillRefusedError)
    await assert.rejects(
      removeFill(root, path.join(root, 'temp', '..', 'data', chaosFileName('chf_x'))),
      FillRefusedError,
    )
    mkdirSync(path.join(root, 'temp', chaosFileName('chf_dir')))
    await assert.rejects(removeFill(root, path.join(root, 'temp', chaosFileName('chf_dir'))), /not a regular file/)
    assert.ok(existsSync(path.join(root, 'data', 'db')))
    assert.ok(existsSync(path.join(root, 'temp', 'existing.tmp')))
  })

  it('refuses a sandbox that is not one (a system directory)', async () => {
    await assert.rejects(
      fillTemp({ sandboxDir: '/etc', targetBytes: 1024, faultId: faultId() }),
      /refusing|does not look like a sandbox/,
    )
  })
})

describe('chaos target gate', () => {
  const info = (labels: Record<string, string>, state: Partial<ContainerInfo['State']> = {}) =>
    ({
      Id: 'x',
      Name: '/x',
      Config: { Labels: labels },
      State: { Running: true, Paused: false, Restarting: false, ...state },
    }) as unknown as ContainerInfo
  const watch = { key: 'sentinel.watch', value: 'true' }

  it('needs the chaos label and the watch label on a running, unpaused container', () => {
    assert.equal(refusal(info({ 'sentinel.chaos': 'true', 'sentinel.watch': 'true' }), watch), null)
    assert.match(refusal(info({ 'sentinel.watch': 'true' }), watch) ?? '', /sentinel.chaos=true/)
    assert.match(
      refusal(info({ 'sentinel.chaos': 'yes', 'sentinel.watch': 'true' }), watch) ?? '',
      /sentinel.chaos=true/,
    )
    assert.match(refusal(info({ 'sentinel.chaos': 'true' }), watch) ?? '', /sentinel.watch=true/)
    assert.match(
      refusal(info({ 'sentinel.chaos': 'true', 'sentinel.watch': 'true' }, { Running: false }), watch) ?? '',
      /not running/,
    )
    assert.match(
      refusal(info({ 'sentinel.chaos': 'true', 'sentinel.watch': 'true' }, { Paused: true }), watch) ?? '',
      /paused/,
    )
    assert.match(refusal(info({}), null) ?? '', /sentinel.chaos=true/)
  })

  it('passes the duration to a constant busy-loop script as an argument, never inside it', () => {
    const a = busyLoopArgv(30)
    const b = busyLoopArgv(600)
    assert.deepEqual([a[0], a[1]], ['sh', '-c'])
    assert.equal(a[2], b[2], 'the script does not depend on the input')
    assert.deepEqual(a.slice(3), [BUSY_LOOP_NAME, '30'])
  })
})
