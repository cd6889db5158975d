import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { freePort, waitFor } from '../../../tests/helpers/ports'
import { getAction } from '../catalog'
import { resetConfigCache } from '../../platform/config/index'
import { createKillProcess, isAlive, KillRefusedError, protectionReason, terminate } from './index'
import { readArgv, readProcStat } from '../../platform/host/procfs'

const tag = randomBytes(4).toString('hex')
const RUNAWAY = `sentinel-runaway-${tag}`
const INNOCENT = `sentinel-innocent-${tag}`

interface Spawned {
  child: ChildProcess
  pid: number
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

const children: ChildProcess[] = []

async function spawnTracked(cmd: string, args: string[], marker: string): Promise<Spawned> {
  const child = spawn(cmd, args, { stdio: 'ignore' })
  children.push(child)
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  )
  // Wait until the process runs its own command line (not yet Node's pre-exec copy).
  await waitFor(async () => (await readArgv(child.pid!)).join(' ').includes(marker), {
    timeoutMs: 10_000,
    what: `${marker} to start`,
  })
  return { child, pid: child.pid!, exit }
}

/** A CPU-burning shell loop; `marker` is its $0, so it shows in the command line. */
const busyLoop = (marker: string, ignoreTerm = false) =>
  spawnTracked('sh', ['-c', `${ignoreTerm ? "trap '' TERM; " : ''}while :; do :; done`, marker], marker)

const running = (s: Spawned) => s.child.exitCode === null && s.child.signalCode === null

describe('kill_process', () => {
  let stateDir: string
  const ctx = () => ({ incidentId: `inc_test_${randomBytes(4).toString('hex')}`, actor: 'test' })
  const make = (extra: Parameters<typeof createKillProcess>[0] = {}) =>
    createKillProcess({ stateDir, allowlist: [RUNAWAY], graceMs: 2000, sampleMs: 1000, minCpuPercent: 1, ...extra })

  before(() => {
    delete process.env.KILL_PROCESS_ALLOWLIST
    resetConfigCache()
    stateDir = mkdtempSync(path.join(os.tmpdir(), 'sentinel-test-killstate-'))
  })
  after(() => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
    rmSync(stateDir, { recursive: true, force: true })
  })

  it('is registered as high risk with no rollback', () => {
    const action = getAction('kill_process')
    assert.equal(action?.risk, 'high')
    assert.equal(action?.rollback, undefined)
    assert.equal(action?.params.safeParse({ pid: 1 }).success, false)
  })

  it('kills nothing when the allow-list is empty (the default)', async () => {
    const runaway = await busyLoop(`${RUNAWAY}-default`)
    const action = createKillProcess({ stateDir })
    await assert.rejects(action.execute({ pid: runaway.pid }, ctx()), /KILL_PROCESS_ALLOWLIST is empty/)
    await assert.rejects(action.execute({}, ctx()), /KILL_PROCESS_ALLOWLIST is empty/)
    assert.ok(running(runaway))
    runaway.child.kill('SIGKILL')
  })

  it('kills the busiest allow-listed process and spares a busy innocent one; once per incident', async () => {
    const innocent = await busyLoop(INNOCENT)
    const runaway = await busyLoop(`${RUNAWAY}-a`)
    const action = make()
    const c = ctx()
    const snap = (await action.snapshot({}, c)) as any
    assert.equal(snap.candidate?.pid, runaway.pid)
    assert.equal((await action.verify({}, c)).ok, false, 'nothing selected yet')

    const result = await action.execute({}, c)
    assert.equal(result.performed, 'killed')
    assert.equal(result.pid, runaway.pid)
    assert.equal(result.signal, 'SIGTERM')
    assert.equal((await runaway.exit).signal, 'SIGTERM')
    assert.ok(running(innocent), 'the innocent busy process survives')
    const verified = await action.verify({}, c)
    assert.equal(verified.ok, true, verified.detail)

    // A retry for the same incident does not go looking for another victim.
    const another = await busyLoop(`${RUNAWAY}-b`)
    const again = await action.execute({}, c)
    assert.equal(again.performed, 'none')
    assert.equal(again.pid, runaway.pid)
    assert.ok(running(another))
    assert.ok(running(innocent))
    another.child.kill('SIGKILL')
    innocent.child.kill('SIGKILL')
  })

  it('escalates to SIGKILL after the grace period when SIGTERM is ignored', async () => {
    const stubborn = await busyLoop(`${RUNAWAY}-stubborn`, true)
    const c = ctx()
    const result = await make({ graceMs: 300 }).execute({ pid: stubborn.pid }, c)
    assert.equal(result.outcome, 'killed')
    assert.equal((await stubborn.exit).signal, 'SIGKILL')
    assert.equal((await make().verify({}, c)).ok, true)
  })

  it('reads the allow-list from KILL_PROCESS_ALLOWLIST', async () => {
    const runaway = await busyLoop(`${RUNAWAY}-env`)
    process.env.KILL_PROCESS_ALLOWLIST = JSON.stringify([`${RUNAWAY}-env$`])
    resetConfigCache()
    try {
      const result = await createKillProcess({ stateDir, graceMs: 2000 }).execute({ pid: runaway.pid }, ctx())
      assert.equal(result.performed, 'killed')
      assert.equal((await runaway.exit).signal, 'SIGTERM')
    } finally {
      delete process.env.KILL_PROCESS_ALLOWLIST
      resetConfigCache()
    }
  })

  it('refuses a given pid that is not allow-listed, PID 1, Sentinel itself and its parent', async () => {
    const innocent = await busyLoop(`${INNOCENT}-pid`)
    await assert.rejects(make().execute({ pid: innocent.pid }, ctx()), /not allow-listed/)
    const everything = make({ allowlist: ['.'] })
    await assert.rejects(everything.execute({ pid: 1 }, ctx()), /PID 1/)
    await assert.rejects(everything.execute({ pid: process.pid }, ctx()), /Sentinel itself/)
    await assert.rejects(everything.execute({ pid: process.ppid }, ctx()), /Sentinel's parent/)
    assert.ok(running(innocent))
    innocent.child.kill('SIGKILL')
  })

  it('never kills redis-server or a node process running motia, whatever the allow-list says', async () => {
    const port = await freePort()
    const redis = await spawnTracked(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      'redis-server',
    )
    const motia = await spawnTracked(
      process.execPath,
      ['-e', 'setInterval(() => {}, 1000)', `motia-${RUNAWAY}`],
      `motia-${RUNAWAY}`,
    )
    const everything = make({ allowlist: ['.'] })
    await assert.rejects(everything.execute({ pid: redis.pid }, ctx()), /protected command redis-server/)
    await assert.rejects(everything.execute({ pid: motia.pid }, ctx()), /Motia/)
    assert.ok(running(redis))
    assert.ok(running(motia))
    assert.match(
      protectionReason({ pid: 1234, comm: 'dockerd', argv: ['/usr/bin/dockerd', '-H', 'fd://'] }) ?? '',
      /dockerd/,
    )
    assert.match(protectionReason({ pid: 1234, comm: 'containerd', argv: ['/usr/bin/containerd'] }) ?? '', /containerd/)
    redis.child.kill('SIGKILL')
    motia.child.kill('SIGKILL')
  })

  it('does not signal a pid whose start time differs from the one selected (pid reuse)', async () => {
    const innocent = await busyLoop(`${RUNAWAY}-reused`)
    const stat = await readProcStat(innocent.pid)
    assert.ok(stat)
    const stale = { pid: innocent.pid, startTime: stat.startTime - 1, command: 'an earlier process', cpuPercent: null }
    assert.equal(await isAlive(stale), false)
    assert.equal(await terminate(stale, { graceMs: 100, allowlist: [/./] }), 'already-gone')
    assert.ok(running(innocent))
    assert.equal(await isAlive({ pid: innocent.pid, startTime: stat.startTime }), true)
    innocent.child.kill('SIGKILL')
  })

  it('refuses when nothing allow-listed is burning CPU', async () => {
    const idle = await spawnTracked('sh', ['-c', 'sleep 60; :', `${RUNAWAY}-idle`], `${RUNAWAY}-idle`)
    await assert.rejects(make({ minCpuPercent: 5 }).execute({}, ctx()), KillRefusedError)
    assert.ok(running(idle))
    idle.child.kill('SIGKILL')
  })
})
