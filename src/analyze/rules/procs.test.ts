import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { test } from 'node:test'
import { readProcStat } from '../../platform/host/procfs'
import { containerIdFromCgroup, listProcesses, parseRssBytes, topByCpu } from './procs'

test('parseRssBytes and containerIdFromCgroup', () => {
  assert.equal(parseRssBytes('Name:\tx\nVmRSS:\t  2048 kB\n'), 2048 * 1024)
  assert.equal(parseRssBytes('Name:\tkthreadd\n'), 0)
  const id = 'a'.repeat(64)
  assert.equal(containerIdFromCgroup(`0::/system.slice/docker-${id}.scope\n`), id)
  assert.equal(containerIdFromCgroup(`12:memory:/docker/${id}\n`), id)
  assert.equal(containerIdFromCgroup('0::/user.slice/user-0.slice/session-1.scope\n'), undefined)
})

test('listProcesses sees this very process with its command line and memory', async () => {
  const me = (await listProcesses()).find((p) => p.pid === process.pid)
  assert.ok(me)
  assert.ok(me.rssBytes > 1024 * 1024)
  assert.match(me.command, /node/)
  assert.equal(me.containerId, undefined)
})

test('topByCpu names a busy process with its command line and its share of a CPU', async () => {
  const marker = `sentinel-procs-busy-${process.pid}`
  const busy = spawn(process.execPath, ['-e', 'for (;;) {}', marker], { stdio: 'ignore' })
  try {
    await new Promise((r) => setTimeout(r, 200))
    const ticks = async () => (await readProcStat(busy.pid!))!.cpuTicks
    const before = await ticks()
    const t0 = Date.now()
    const top = await topByCpu(500, 20)
    const after = await ticks()
    const found = top.find((p) => p.pid === busy.pid)
    assert.ok(
      found,
      `the busy loop is among the busiest: ${JSON.stringify(top.map((p) => [p.pid, p.name, p.cpuPercent]))}`,
    )
    assert.match(found.command, new RegExp(marker))
    assert.equal(found.name, 'node')
    // The share is what the loop used over the sample: no more than the CPU time it used over the whole call
    // (however loaded this host is), 100 ticks a second.
    const sampled = (found.cpuPercent / 100) * 0.5 * 100
    assert.ok(
      found.cpuPercent > 0 && sampled <= after - before + 1,
      `${found.cpuPercent}% over 0.5 s vs ${after - before} ticks in ${Date.now() - t0} ms`,
    )
    assert.deepEqual(
      [...top].sort((a, b) => b.cpuPercent - a.cpuPercent),
      top,
      'busiest first',
    )
  } finally {
    busy.kill('SIGKILL')
  }
})
