import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  contextClone,
  contextCreate,
  contextFromJson,
  contextToJson,
  contextUpdate,
  type ContextShape,
} from './context'

const popcount = (bytes: Uint8Array) => [...bytes].reduce((n, b) => n + b.toString(2).replaceAll('0', '').length, 0)

describe('contextual novelty model', () => {
  const shape: ContextShape = { levels: 8, order: 3, tableBits: 10, maxFill: 0.5 }
  // values in [0, 8) land in levels 1..8 of the range [0, 8]
  const feed = (c: ReturnType<typeof contextCreate>, xs: number[]) => xs.map((x) => contextUpdate(c, x, 0, 8, shape))

  it('knows a repeated pattern and flags a new continuation', () => {
    const c = contextCreate(shape)
    for (let r = 0; r < 5; r++) feed(c, [1, 2, 3, 4])
    assert.deepEqual(feed(c, [1, 2, 3, 4]), [0, 0, 0, 0], 'a cycle seen before is not new')
    assert.equal(contextUpdate(c, 7, 0, 8, shape, false), 1, 'a level never reached from 4 is new at order 1')
    assert.equal(contextUpdate(c, 1, 0, 8, shape, false), 0, 'peeking learns nothing and the cycle goes on')
  })

  it('starts a new generation past maxFill, keeps the fill bounded, and still knows what the previous one saw', () => {
    const c = contextCreate(shape)
    const bits = 2 ** shape.tableBits
    let seed = 7
    const noise = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31
      return (seed / 2 ** 31) * 8
    }
    let rotations = 0
    let prev = c.seen
    for (let i = 0; i < 5000; i++) {
      contextUpdate(c, noise(), 0, 8, shape)
      if (c.seen !== prev) {
        rotations++
        assert.equal(c.old, prev, 'the full table became the previous generation')
        prev = c.seen
      }
      assert.ok(c.fill <= shape.maxFill * bits + 1, `fill ${c.fill}`)
      assert.equal(c.fill, popcount(c.seen))
    }
    assert.ok(rotations >= 2, `${rotations} rotations`)
    // A transition the previous generation holds counts as seen, and is carried into the current one.
    const probe = contextClone(c)
    probe.seen = new Uint8Array(probe.seen.length)
    probe.fill = 0
    probe.old = c.seen.slice()
    const before = contextClone(c)
    const x = noise()
    const novelty = contextUpdate(before, x, 0, 8, shape, false)
    assert.equal(
      contextUpdate(probe, x, 0, 8, shape),
      novelty,
      'same answer from the previous generation as from the current one',
    )
    assert.ok(probe.fill > 0 || novelty === 1)
  })

  it('round-trips through JSON with both generations, and reads states saved before generations existed', () => {
    const c = contextCreate(shape)
    for (let i = 0; i < 3000; i++) contextUpdate(c, (i * 7919) % 8, 0, 8, shape)
    const back = contextFromJson(JSON.parse(JSON.stringify(contextToJson(c))), shape)
    assert.deepEqual(back.recent, c.recent)
    assert.deepEqual(back.seen, c.seen)
    assert.deepEqual(back.old, c.old)
    assert.equal(back.fill, c.fill)
    const legacy = contextFromJson({ recent: [1, 2], seen: Buffer.from(c.seen).toString('base64') }, shape)
    assert.equal(legacy.old, null)
    assert.equal(legacy.fill, popcount(c.seen))
    assert.throws(() => contextFromJson({ recent: [], seen: Buffer.alloc(8).toString('base64') }, shape), /table size/)
    assert.throws(
      () =>
        contextFromJson(
          { recent: [], seen: Buffer.from(c.seen).toString('base64'), old: Buffer.alloc(8).toString('base64') },
          shape,
        ),
      /table size/,
    )
  })
})
