/**
 * src/platform/docker/logs.ts: frame demultiplexing, and real containers with and without a TTY; the
 * label-filtered lookup that stands before every read of a container.
 */
import { randomBytes } from 'node:crypto'
const LABEL_KEY = `sentinel.unit-${randomBytes(3).toString('hex')}`
process.env.WATCH_LABEL = `${LABEL_KEY}=true`

import assert from 'node:assert/strict'
import { after, test } from 'node:test'
import {
  findWatchedContainer,
  listWatchedContainers,
  matchWatchedContainer,
  type WatchedContainer,
} from '../../platform/docker/engine-api'
import { containerLogs, demuxDockerStream, looksMultiplexed, tailBytes } from '../../platform/docker/logs'
import { removeContainers, runContainer, state, uniqueName } from '../../../tests/helpers/docker'
import { waitFor } from '../../../tests/helpers/ports'
import { usageFromStats } from './container'

const names: string[] = []
after(() => removeContainers(...names))

function frame(stream: number, text: string): Buffer {
  const payload = Buffer.from(text)
  const header = Buffer.alloc(8)
  header[0] = stream
  header.writeUInt32BE(payload.length, 4)
  return Buffer.concat([header, payload])
}

test('demuxDockerStream splits frames and keeps an incomplete tail', () => {
  const buf = Buffer.concat([frame(1, 'out line\n'), frame(2, 'err line\n'), frame(1, 'partial')])
  const cut = buf.subarray(0, buf.length - 3)
  const { frames, rest } = demuxDockerStream(cut)
  assert.deepEqual(
    frames.map((f) => [f.stream, f.data.toString()]),
    [
      ['stdout', 'out line\n'],
      ['stderr', 'err line\n'],
    ],
  )
  assert.equal(rest.length, 8 + 'partial'.length - 3)
  assert.ok(looksMultiplexed(buf))
  assert.ok(!looksMultiplexed(Buffer.from('plain tty output\n')))
})

test('tailBytes keeps the newest bytes from a line start', () => {
  assert.equal(tailBytes('aaa\nbbb\nccc\n', 6), 'ccc\n')
  assert.equal(tailBytes('short', 100), 'short')
  // A cut inside a multi-byte character does not leave a broken character.
  assert.ok(!tailBytes('ééééé\nok', 8).includes('\uFFFD'))
})

async function exited(cmd: string[], args: string[] = []): Promise<WatchedContainer> {
  const name = uniqueName('logs')
  names.push(name)
  const id = await runContainer(name, { cmd, args, labels: { [LABEL_KEY]: 'true' } })
  await waitFor(async () => !(await state(name)).Running, { timeoutMs: 20_000, what: 'container to exit' })
  const watched = await findWatchedContainer(name)
  assert.equal(watched?.id, id)
  return watched!
}

test('findWatchedContainer answers from the label-filtered listing: by id, name or unique id prefix; never an unlabelled container', async () => {
  const watchedName = uniqueName('lookup-watched')
  const otherName = uniqueName('lookup-unwatched')
  names.push(watchedName, otherName)
  const id = await runContainer(watchedName, { labels: { [LABEL_KEY]: 'true' } })
  const otherId = await runContainer(otherName, { labels: { [LABEL_KEY]: 'false' } })
  for (const ref of [id, watchedName, `/${watchedName}`, id.slice(0, 12)]) {
    const found = await findWatchedContainer(ref)
    assert.deepEqual(
      found && { id: found.id, name: found.name, state: found.state },
      { id, name: watchedName, state: 'running' },
      ref,
    )
  }
  for (const ref of [otherName, otherId, otherId.slice(0, 12), '', 'no-such-container'])
    assert.equal(await findWatchedContainer(ref), null, `"${ref}"`)
  assert.ok(!(await listWatchedContainers()).some((c) => c.id === otherId))
  // An id prefix two watched containers share is no answer, as Docker would not resolve it either.
  const twins = [
    { id: 'abcdef0123456789', name: 'a', state: 'running' },
    { id: 'abcdef0123456fff', name: 'b', state: 'running' },
  ] as unknown as WatchedContainer[]
  assert.equal(matchWatchedContainer(twins, 'abcdef012345'), null)
  assert.equal(matchWatchedContainer(twins, 'abcdef0123456f')?.name, 'b')
  // Shorter than a short id: no prefix match (an alert naming "cafe" is not about container cafe0123...).
  assert.equal(matchWatchedContainer(twins, 'abcdef0123456'.slice(0, 11)), null)
  // A name wins over another container's id prefix.
  assert.equal(
    matchWatchedContainer(
      [...twins, { id: 'fff', name: 'abcdef012345', state: 'exited' } as unknown as WatchedContainer],
      'abcdef012345',
    )?.id,
    'fff',
  )
})

test('logs of a container without a TTY: stdout and stderr demultiplexed, tail and size limits', async () => {
  const c = await exited([
    'sh',
    '-c',
    'i=1; while [ $i -le 300 ]; do echo "line $i"; i=$((i+1)); done; sleep 0.3; echo "to stderr" >&2; sleep 0.3; echo last',
  ])
  const all = await containerLogs(c, { tail: 1000, maxBytes: 1_000_000 })
  const lines = all.trim().split('\n')
  assert.equal(lines.length, 302)
  assert.ok(lines.includes('to stderr'))
  // Docker keeps order within a stream, not between stdout and stderr.
  const stdout = lines.filter((l) => l !== 'to stderr')
  assert.deepEqual(stdout, [...Array.from({ length: 300 }, (_, i) => `line ${i + 1}`), 'last'])
  // eslint-disable-next-line no-control-regex -- Docker's frame headers begin with stream-type bytes 0-2: none may be left
  assert.ok(!/[\x00-\x02]/.test(all), 'no frame headers left in the text')
  const tail = await containerLogs(c, { tail: 5 })
  assert.equal(tail.trim().split('\n').length, 5)
  const small = await containerLogs(c, { tail: 1000, maxBytes: 100 })
  assert.ok(Buffer.byteLength(small) <= 100)
  assert.ok(small.length > 0 && all.endsWith(small), 'the newest bytes, from a line start')
  assert.ok(all.endsWith(`\n${small}`))
  const marked = await containerLogs(c, { tail: 3, markStderr: true })
  assert.match(marked, /^stderr: to stderr$/m)
})

test('logs of a container with a TTY are read raw', async () => {
  const c = await exited(['sh', '-c', 'echo "tty one"; echo "tty two"'], ['-t'])
  const text = await containerLogs(c)
  assert.match(text, /tty one\r?\ntty two/)
  assert.equal(await containerLogs(c, { tty: true }), text)
})

test('usageFromStats computes memory (without inactive files) and CPU percent as docker stats does', () => {
  const u = usageFromStats({
    memory_stats: { usage: 120 * 1024 * 1024, limit: 200 * 1024 * 1024, stats: { inactive_file: 20 * 1024 * 1024 } },
    cpu_stats: { cpu_usage: { total_usage: 3_000_000_000 }, system_cpu_usage: 20_000_000_000, online_cpus: 2 },
    precpu_stats: { cpu_usage: { total_usage: 2_000_000_000 }, system_cpu_usage: 18_000_000_000 },
  })
  assert.deepEqual(u, {
    memoryBytes: 100 * 1024 * 1024,
    memoryLimitBytes: 200 * 1024 * 1024,
    memoryPercent: 50,
    cpuPercent: 100,
  })
  assert.equal(usageFromStats({}), undefined)
})
