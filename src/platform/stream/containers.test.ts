import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { DockerEvent } from '../docker/events'
import { ContainerStatusFeed, type ContainerStatus } from './containers'

const watched = { 'sentinel.watch': 'true' }
const ev = (action: string, sec: number, attrs: Record<string, string> = {}, id = 'c1'): DockerEvent => ({
  Type: 'container',
  Action: action,
  Actor: { ID: id, Attributes: { name: 'web', image: 'img', ...watched, ...attrs } },
  time: sec,
  timeNano: sec * 1e9,
})

function feed(nowSec = 1000) {
  const published: ContainerStatus[] = []
  const f = new ContainerStatusFeed({
    isWatched: (l) => l?.['sentinel.watch'] === 'true',
    publish: (s) => published.push(s),
    now: () => nowSec * 1000,
  })
  return { f, published }
}

describe('container status feed', () => {
  it('follows death and restart, counting restarts', () => {
    const { f, published } = feed()
    f.onEvent(ev('start', 1001))
    f.onEvent(ev('die', 1002, { exitCode: '137' }))
    f.onEvent(ev('oom', 1002))
    f.onEvent(ev('start', 1003))
    assert.deepEqual(
      published.map((s) => s.state),
      ['running', 'down', 'down', 'running'],
    )
    assert.equal(published[1].exitCode, 137)
    assert.equal(published[2].oomKilled, true)
    assert.equal(published[3].restarts, 1)
    assert.equal(published[3].exitCode, undefined)
    assert.deepEqual(
      f.list().map((s) => [s.name, s.state, s.restarts]),
      [['web', 'running', 1]],
    )
  })

  it('reports health checks, pauses and removal', () => {
    const { f, published } = feed()
    f.onEvent(ev('start', 1001))
    f.onEvent(ev('health_status: unhealthy', 1002))
    assert.equal(published.at(-1)!.health, 'unhealthy')
    f.onEvent(ev('pause', 1003))
    assert.equal(published.at(-1)!.state, 'paused')
    f.onEvent(ev('unpause', 1004))
    f.onEvent(ev('destroy', 1005))
    assert.equal(published.at(-1)!.state, 'removed')
    assert.deepEqual(f.list(), [])
  })

  it('ignores unwatched containers, other actions and events older than the seed', () => {
    const { f, published } = feed(2000)
    f.onEvent(ev('die', 2001, { 'sentinel.watch': 'false' }, 'c2'))
    f.onEvent(ev('exec_start: sh', 2001))
    assert.equal(published.length, 0)
    f.seed([
      { Id: 'c1', Names: ['/web'], State: 'running', Status: 'Up 3 minutes (healthy)', Labels: watched },
      { Id: 'c3', Names: ['/other'], State: 'exited', Labels: {} },
    ])
    // A replayed death from before the listing must not paint a running container red.
    f.onEvent(ev('die', 1990))
    assert.equal(published.length, 0)
    assert.deepEqual(
      f.list().map((s) => [s.name, s.state, s.health]),
      [['web', 'running', 'healthy']],
    )
  })
})
