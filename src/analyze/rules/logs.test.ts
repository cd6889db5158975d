/** src/docker/logs.ts: frame demultiplexing, and real containers with and without a TTY. */
import assert from 'node:assert/strict'
import { after, test } from 'node:test'
import { containerLogs, demuxDockerStream, looksMultiplexed, tailBytes } from '../../docker/logs'
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
  assert.deepEqual(frames.map((f) => [f.stream, f.data.toString()]), [['stdout', 'out line\n'], ['stderr', 'err line\n']])
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

async function exited(cmd: string[], args: string[] = []): Promise<string> {
  const name = uniqueName('logs')
  names.push(name)
  const id = await runContainer(name, { cmd, args })
  await waitFor(async () => !(await state(name)).Running, { timeoutMs: 20_000, what: 'container to exit' })
  return id
}

test('logs of a container without a TTY: stdout and stderr demultiplexed, tail and size limits', async () => {
  const id = await exited(['sh', '-c', 'i=1; while [ $i -le 300 ]; do echo "line $i"; i=$((i+1)); done; sleep 0.3; echo "to stderr" >&2; sleep 0.3; echo last'])
  const all = await containerLogs(id, { tail: 1000, maxBytes: 1_000_000 })
  const lines = all.trim().split('\n')
  assert.equal(lines.length, 302)
  assert.ok(lines.includes('to stderr'))
  // Docker keeps order within a stream, not between stdout and stderr.
  const stdout = lines.filter((l) => l !== 'to stderr')
  assert.deepEqual(stdout, [...Array.from({ length: 300 }, (_, i) => `line ${i + 1}`), 'last'])
  assert.ok(!/[\x00-\x02]/.test(all), 'no frame headers left in the text')
  const tail = await containerLogs(id, { tail: 5 })
  assert.equal(tail.trim().split('\n').length, 5)
  const small = await containerLogs(id, { tail: 1000, maxBytes: 100 })
  assert.ok(Buffer.byteLength(small) <= 100)
  assert.ok(small.length > 0 && all.endsWith(small), 'the newest bytes, from a line start')
  assert.ok(all.endsWith(`\n${small}`))
  const marked = await containerLogs(id, { tail: 3, markStderr: true })
  assert.match(marked, /^stderr: to stderr$/m)
})

test('logs of a container with a TTY are read raw', async () => {
  const id = await exited(['sh', '-c', 'echo "tty one"; echo "tty two"'], ['-t'])
  const text = await containerLogs(id)
  assert.match(text, /tty one\r?\ntty two/)
  assert.equal(await containerLogs(id, { tty: true }), text)
})

test('usageFromStats computes memory (without inactive files) and CPU percent as docker stats does', () => {
  const u = usageFromStats({
    memory_stats: { usage: 120 * 1024 * 1024, limit: 200 * 1024 * 1024, stats: { inactive_file: 20 * 1024 * 1024 } },
    cpu_stats: { cpu_usage: { total_usage: 3_000_000_000 }, system_cpu_usage: 20_000_000_000, online_cpus: 2 },
    precpu_stats: { cpu_usage: { total_usage: 2_000_000_000 }, system_cpu_usage: 18_000_000_000 },
  })
  assert.deepEqual(u, { memoryBytes: 100 * 1024 * 1024, memoryLimitBytes: 200 * 1024 * 1024, memoryPercent: 50, cpuPercent: 100 })
  assert.equal(usageFromStats({}), undefined)
})
