import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, it } from 'node:test'
import { ContextOse } from './cad-ose'
import { StreamingCad, sensorFacts } from './cad-stream'
import { loadCorpus } from './corpus'
import { probationaryLength } from './scorer'

const data = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'shared', 'nab')

/** A noisy daily-like cycle: sin plus deterministic pseudo-noise (no Math.random: reproducible). */
function cycle(n: number, seed = 1): number[] {
  let x = seed
  const out: number[] = []
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) % 2 ** 31
    out.push(50 + 20 * Math.sin((2 * Math.PI * i) / 96) + (x / 2 ** 31) * 6)
  }
  return out
}

describe('streaming CAD (the #24 candidate)', () => {
  it('gives levels outside the range facts of their own: more bits above, a separate space below', () => {
    assert.deepEqual(sensorFacts(5, 3), [1, 2, 5])
    const inside = new Set([0, 1, 2, 3, 4, 5, 6, 7].flatMap((level) => sensorFacts(level, 3)))
    assert.equal(inside.size, 6, 'three bits, each 0 or 1')
    for (const level of [-1, -9, 8, 9, 100]) {
      const facts = sensorFacts(level, 3)
      assert.ok(facts.length >= 3, `level ${level}`)
      assert.ok(
        facts.every((f) => !inside.has(f)),
        `level ${level} shares no fact with a level inside the range`,
      )
    }
    assert.notDeepEqual(sensorFacts(-1, 3), sensorFacts(8, 3), 'just below and just above differ')
  })

  it('scores 0 through the warm-up, then scores, and rests after a high score', () => {
    const cad = new StreamingCad({ warmup: 200, restPoints: 50 })
    const values = cycle(1200)
    const scores = values.map((v) => cad.update(v))
    assert.ok(
      scores.slice(0, 200).every((s) => s === 0),
      'no score during the warm-up',
    )
    assert.ok(
      scores.slice(200).some((s) => s > 0),
      'scores after it',
    )
    // a jump far outside the learned range is new: a high score, then a rest of 50 points at 0
    const spike = cad.update(500)
    assert.ok(spike >= 0.75, `the spike scores ${spike}`)
    const after = values.slice(0, 50).map((v) => cad.update(v))
    assert.ok(
      after.every((s) => s === 0),
      'the rest period follows the alert',
    )
  })

  it('keeps its memory bounded: a successor store takes over when the store is full', () => {
    const cad = new StreamingCad({ warmup: 50, maxContexts: 400 })
    let most = 0
    // noise makes new contexts at almost every point
    for (const v of cycle(6000, 7).map((v, i) => v + ((i * 7919) % 13))) {
      cad.update(v)
      most = Math.max(most, cad.contexts)
    }
    assert.ok(most > 400, `it learned beyond one store (${most} contexts at most)`)
    assert.ok(most <= 2 * 400, `at most a full store and its successor (${most})`)
  })

  it(
    "gives CAD OSE's rows when told the file's range, where no tie between contexts arises",
    { skip: !existsSync(data) },
    () => {
      const corpus = loadCorpus(data)
      // files on which CAD OSE never has to break a tie between equally active contexts
      for (const name of [
        'artificialNoAnomaly/art_daily_perfect_square_wave.csv',
        'artificialWithAnomaly/art_increase_spike_density.csv',
        'realAWSCloudwatch/ec2_network_in_257a54.csv',
      ]) {
        const f = corpus.find((c) => c.name === name)
        assert.ok(f, name)
        const min = Math.min(...f.values)
        const max = Math.max(...f.values)
        const rest = Math.trunc(probationaryLength(f.values.length) / 5)
        const reference = new ContextOse(min, max, rest)
        const streaming = new StreamingCad({ range: [min, max], restPoints: rest, skipFirst: true })
        let nonZero = 0
        f.values.forEach((v, i) => {
          const want = reference.update(v)
          if (want > 0) nonZero++
          assert.ok(Math.abs(streaming.update(v) - want) < 1e-12, `${name} row ${i}`)
        })
        assert.ok(nonZero > 100, `${name}: ${nonZero} non-zero rows compared`)
      }
    },
  )
})
