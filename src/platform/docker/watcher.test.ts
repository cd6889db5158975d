/** The event watcher against the real Docker engine: where it resumes after handled and failed events. */
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { docker, removeContainers, runContainer, uniqueName } from '../../../tests/helpers/docker'
import { waitFor } from '../../../tests/helpers/ports'
import type { DockerEvent } from './events'
import { DockerEventWatcher } from './watcher'

describe('Docker event watcher', () => {
  const names: string[] = []
  after(() => removeContainers(...names))

  async function watch(failAction: string | null) {
    const name = uniqueName('watcher')
    names.push(name)
    const seen: DockerEvent[] = []
    const saved: number[] = []
    const gaps: { fromMs: number | null; toMs: number }[] = []
    const w = new DockerEventWatcher({
      onEvent: async (e) => {
        if (e.Actor.Attributes?.name !== name) return
        seen.push(e)
        if (e.Action === failAction) throw new Error('handling failed for good')
      },
      loadPosition: async () => undefined,
      savePosition: async (t) => {
        saved.push(t)
      },
      log: () => {},
      onFirstConnect: (gap) => gaps.push(gap),
    })
    w.start()
    await waitFor(() => w.status.state === 'up', { timeoutMs: 10_000, what: 'the event stream' })
    await runContainer(name)
    await docker('kill', name)
    await waitFor(() => seen.some((e) => e.Action === 'die'), { timeoutMs: 10_000, what: 'the die event' })
    await w.stop()
    return { seen, saved, gaps }
  }

  it('reports the gap before its first stream, and resumes after every handled event', async () => {
    const { seen, saved, gaps } = await watch(null)
    assert.equal(gaps.length, 1)
    assert.equal(gaps[0].fromMs, null, 'no saved position: everything before the start is a gap')
    const die = seen.find((e) => e.Action === 'die')!
    assert.ok(saved.at(-1)! >= die.timeNano, 'the position passed the last event handled')
  })

  it('keeps its position before an event whose handling failed, so the next start replays it', async () => {
    const { seen, saved } = await watch('start')
    const start = seen.find((e) => e.Action === 'start')!
    const die = seen.find((e) => e.Action === 'die')!
    assert.ok(die.timeNano > start.timeNano, 'later events were handled')
    assert.ok(saved.length > 0)
    assert.ok(
      saved.at(-1)! < start.timeNano,
      `position ${saved.at(-1)} stays before the failed event ${start.timeNano}`,
    )
  })
})
