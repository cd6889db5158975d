/** The /proc readers against this host's real /proc, with child processes made for the test. */
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { waitFor } from '../../../tests/helpers/ports'
import { listPids, parseProcStat, readArgv, readProcStat, sampleCpu } from './procfs'

const exited = (child: ChildProcess) =>
  new Promise<void>((resolve) =>
    child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve()),
  )

describe('parseProcStat', () => {
  it('reads the fields after a command name holding spaces and parentheses', () => {
    const stat =
      '4242 (my (odd) proc) R 1 4242 4242 0 -1 4194304 100 0 0 0 250 50 0 0 20 0 1 0 12345 1000000 200 18446744073709551615'
    assert.deepEqual(parseProcStat(4242, stat), {
      pid: 4242,
      comm: 'my (odd) proc',
      state: 'R',
      ppid: 1,
      cpuTicks: 300,
      startTime: 12345,
    })
    assert.equal(parseProcStat(1, 'garbage'), undefined)
    assert.equal(parseProcStat(1, '1 (cut short) S 0 1'), undefined, 'missing fields are not read as numbers')
  })
})

describe('the real /proc', () => {
  let dir: string
  let odd: ChildProcess
  let busy: ChildProcess
  // The command name is the name exec'd: a link named like this gives a process a comm with spaces and parentheses.
  const oddName = 'my (odd) proc'

  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'sentinel-test-procfs-'))
    // sleep: once exec'd it uses no CPU at all.
    symlinkSync('/bin/sleep', path.join(dir, oddName))
    odd = spawn(path.join(dir, oddName), ['60'], { stdio: 'ignore' })
    busy = spawn(process.execPath, ['-e', 'for (;;) {}', 'busy-marker'], { stdio: 'ignore' })
  })

  after(async () => {
    for (const c of [odd, busy]) c.kill('SIGKILL')
    await Promise.all([exited(odd), exited(busy)])
    rmSync(dir, { recursive: true, force: true })
  })

  it('reads a live process: its name, parent, state and start time', async () => {
    // Until the exec, the child is a copy of node.
    const s = await waitFor(
      async () => {
        const st = await readProcStat(odd.pid!)
        return st?.comm === oddName && st
      },
      { timeoutMs: 10_000, what: 'the child to exec' },
    )
    assert.equal(s.pid, odd.pid)
    assert.equal(s.comm, oddName)
    assert.equal(s.ppid, process.pid)
    assert.match(s.state, /^[RS]$/)
    const mine = await readProcStat(process.pid)
    assert.ok(mine && s.startTime >= mine.startTime, 'the child started after this process')
    assert.ok(mine.cpuTicks > 0, 'this process has used CPU time')
    assert.deepEqual(await readArgv(odd.pid!), [path.join(dir, oddName), '60'])
    const pids = await listPids()
    assert.ok(pids.includes(process.pid) && pids.includes(odd.pid!))
  })

  it('samples CPU: the busy loop by what it used, busiest first, the idle child not at all', async () => {
    const ticks = async () => (await readProcStat(busy.pid!))!.cpuTicks
    const before = await ticks()
    const t0 = Date.now()
    const use = await sampleCpu(500)
    const elapsedS = (Date.now() - t0) / 1000
    const after = await ticks()
    const loop = use.find((u) => u.pid === busy.pid)
    assert.ok(loop, `the busy loop used CPU: ${JSON.stringify(use.slice(0, 5))}`)
    // One thread cannot use more than a core; and the sample cannot hold more CPU time than the loop
    // used over the whole call (100 ticks a second), nor less than that minus what one core could do
    // outside the half second, however loaded this host is.
    assert.ok(loop.cpuPercent > 0 && loop.cpuPercent <= 110, `${loop.cpuPercent}% of a core`)
    const sampled = (loop.cpuPercent / 100) * 0.5 * 100
    const used = after - before
    assert.ok(
      sampled <= used + 1 && sampled >= used - (elapsedS - 0.5) * 100 - 2,
      `${loop.cpuPercent}% over 0.5 s vs ${used} ticks in ${elapsedS} s`,
    )
    assert.equal(loop.startTime, (await readProcStat(busy.pid!))!.startTime)
    assert.equal(loop.ppid, process.pid)
    assert.ok(!use.some((u) => u.pid === odd.pid), 'a sleeping process used no CPU')
    assert.deepEqual(
      [...use].sort((a, b) => b.cpuPercent - a.cpuPercent),
      use,
    )
  })

  it('a process that is gone reads as nothing', async () => {
    const short = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' })
    const pid = short.pid!
    await exited(short)
    assert.equal(await readProcStat(pid), undefined)
    assert.deepEqual(await readArgv(pid), [])
  })
})
