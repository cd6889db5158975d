import assert from 'node:assert/strict'
import { test } from 'node:test'
import { containerIdFromCgroup, listProcesses, parseRssBytes, parseStat } from './procs'

test('parseStat reads utime + stime after a command name holding spaces and parentheses', () => {
  const stat = '4242 (my (odd) proc) R 1 4242 4242 0 -1 4194304 100 0 0 0 250 50 0 0 20 0 1 0 12345 1000000 200 18446744073709551615'
  assert.deepEqual(parseStat(stat), { name: 'my (odd) proc', cpuTicks: 300 })
  assert.equal(parseStat('garbage'), undefined)
})

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
