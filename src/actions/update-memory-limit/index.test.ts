import { randomBytes } from 'node:crypto'
// Our own watch label, so other engineers' running Sentinels never act on these containers.
const WATCH_KEY = `sentinel.unit-${randomBytes(4).toString('hex')}`
process.env.WATCH_LABEL = `${WATCH_KEY}=true`

import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { docker, removeContainers, runContainer, uniqueName } from '../../../tests/helpers/docker'
import { resetConfigCache } from '../../platform/config/index'
import { NotWatchedError } from '../../platform/docker/client'
import { getAction } from '../catalog'
import { createUpdateMemoryLimit, swapFor } from './index'

const MiB = 1024 * 1024

async function limitsOf(name: string): Promise<{ memory: number; swap: number }> {
  const [memory, swap] = (
    await docker('inspect', '--format', '{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}}', name)
  )
    .split(' ')
    .map(Number)
  return { memory, swap }
}

describe('update_memory_limit', () => {
  const watched = uniqueName('memlimit')
  const unwatched = uniqueName('memlimit-unwatched')
  const unlimited = uniqueName('memlimit-unlimited')
  let stateDir: string
  let action: ReturnType<typeof createUpdateMemoryLimit>
  const ctx = (incidentId = `inc_test_${randomBytes(4).toString('hex')}`) => ({ incidentId, actor: 'test' })

  before(async () => {
    resetConfigCache()
    stateDir = mkdtempSync(path.join(os.tmpdir(), 'sentinel-test-memstate-'))
    action = createUpdateMemoryLimit({ stateDir, ceilingBytes: 512 * MiB })
    await Promise.all([
      runContainer(watched, { labels: { [WATCH_KEY]: 'true' }, args: ['--memory', '64m'] }),
      runContainer(unwatched, { args: ['--memory', '64m'] }),
      runContainer(unlimited, { labels: { [WATCH_KEY]: 'true' } }),
    ])
  })
  after(async () => {
    await removeContainers(watched, unwatched, unlimited)
    rmSync(stateDir, { recursive: true, force: true })
  })

  it('is registered with medium risk', () => {
    assert.equal(getAction('update_memory_limit')?.risk, 'medium')
    assert.equal(
      getAction('update_memory_limit')?.params.safeParse({ containerId: 'x', memoryBytes: 1024 }).success,
      false,
    )
  })

  it('keeps the swap allowance when computing the new swap limit', () => {
    assert.equal(swapFor(128 * MiB, 64 * MiB, 128 * MiB), 192 * MiB)
    assert.equal(swapFor(128 * MiB, 64 * MiB, -1), -1)
    assert.equal(swapFor(128 * MiB, 64 * MiB, 0), 128 * MiB)
  })

  it('raises the limit once per incident, verifies it, and rolls back to the exact old values', async () => {
    const original = await limitsOf(watched)
    assert.equal(original.memory, 64 * MiB)
    const c = ctx()
    const params = { containerId: watched, memoryBytes: 128 * MiB }
    const snap = await action.snapshot(params, c)
    assert.equal(snap.memoryLimit, 64 * MiB)
    assert.equal(snap.memorySwap, original.swap)
    assert.equal((await action.verify(params, c)).ok, false)

    const executed = await action.execute(params, c)
    assert.equal(executed.performed, 'raised')
    assert.equal(executed.previousMemory, 64 * MiB)
    const raised = await limitsOf(watched)
    assert.equal(raised.memory, 128 * MiB)
    assert.equal(raised.swap, swapFor(128 * MiB, 64 * MiB, original.swap))
    const verified = await action.verify(params, c)
    assert.equal(verified.ok, true, verified.detail)

    // A retry (even with a different value) does nothing more for the same incident.
    const again = await action.execute({ containerId: watched, memoryBytes: 256 * MiB }, c)
    assert.equal(again.performed, 'none')
    assert.equal((await limitsOf(watched)).memory, 128 * MiB)

    // The rollback works from the on-disk record even when handed the retry's result.
    const rolled = await action.rollback!(params, c, again)
    assert.equal(rolled.performed, 'restored')
    assert.deepEqual(await limitsOf(watched), original)
    assert.equal((await action.rollback!(params, c, executed)).performed, 'none')
    assert.deepEqual(await limitsOf(watched), original)
  })

  it('refuses lowering, values above the ceiling, and containers without a limit', async () => {
    await assert.rejects(
      action.execute({ containerId: watched, memoryBytes: 32 * MiB }, ctx()),
      /not above the current limit/,
    )
    await assert.rejects(action.execute({ containerId: watched, memoryBytes: 1024 * MiB }, ctx()), /ceiling/)
    await assert.rejects(action.execute({ containerId: unlimited, memoryBytes: 128 * MiB }, ctx()), /no memory limit/)
    assert.equal((await limitsOf(watched)).memory, 64 * MiB)
  })

  it('refuses a container without the watch label', async () => {
    const before = await limitsOf(unwatched)
    await assert.rejects(action.execute({ containerId: unwatched, memoryBytes: 128 * MiB }, ctx()), NotWatchedError)
    await assert.rejects(action.snapshot({ containerId: unwatched, memoryBytes: 128 * MiB }, ctx()), NotWatchedError)
    assert.deepEqual(await limitsOf(unwatched), before)
  })

  it('will not restore over a limit someone else changed since', async () => {
    const c = ctx()
    const params = { containerId: watched, memoryBytes: 96 * MiB }
    const original = await limitsOf(watched)
    const executed = await action.execute(params, c)
    await docker('update', '--memory', '200m', '--memory-swap', '400m', watched)
    await assert.rejects(action.rollback!(params, c, executed), /someone else/)
    assert.equal((await limitsOf(watched)).memory, 200 * MiB)
    await docker('update', '--memory', String(original.memory), '--memory-swap', String(original.swap), watched)
  })
})
