import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { chainCorpus, type DataFile } from './corpus'
import { crossValidate, halves, makeFolds, scoreFold, splitRow, windowsFound } from './cv'
import { PROFILES, type ScoredFile } from './scorer'

const T0 = Date.UTC(2024, 0, 1)
const STEP = 300_000

/** A file of n rows whose score is 1 at the rows listed, 0 elsewhere, with windows over [from, to] rows. */
function file(name: string, n: number, hits: number[], windows: [number, number][]): ScoredFile {
  const timestamps = Array.from({ length: n }, (_, i) => T0 + i * STEP)
  const scores = timestamps.map((_, i) => (hits.includes(i) ? 1 : 0))
  return { name, timestamps, scores, windows: windows.map(([a, b]) => [timestamps[a], timestamps[b]]) }
}

describe('NAB cross-validation folds', () => {
  it('cuts a file near its middle, never inside a window', () => {
    assert.equal(splitRow(file('a/x.csv', 1000, [], [])), 500)
    // a window over rows 480..560: the nearer edge is its start
    assert.equal(splitRow(file('a/x.csv', 1000, [], [[480, 560]])), 480)
    // over 440..520: its end is nearer
    assert.equal(splitRow(file('a/x.csv', 1000, [], [[440, 520]])), 521)
    const [first, second] = halves(
      file(
        'a/x.csv',
        1000,
        [],
        [
          [100, 150],
          [440, 520],
          [800, 850],
        ],
      ),
    )
    assert.equal(first.timestamps.length + second.timestamps.length, 1000)
    // cut after the window over 440..520, which stays whole in the first half
    assert.equal(first.timestamps.length, 521)
    assert.equal(first.windows.length, 2)
    assert.equal(second.windows.length, 1)
  })

  it('leaves each category out once, then swaps the halves in time', () => {
    const files = [
      file('a/1.csv', 1000, [], [[700, 750]]),
      file('b/1.csv', 1000, [], []),
      file('c/1.csv', 1000, [], []),
    ]
    const folds = makeFolds(files)
    assert.deepEqual(
      folds.map((f) => f.name),
      ['a', 'b', 'c', 'time: 1st half -> 2nd', 'time: 2nd half -> 1st'],
    )
    assert.deepEqual(
      folds[0].test.map((f) => f.name),
      ['a/1.csv'],
    )
    assert.deepEqual(
      folds[0].train.map((f) => f.name),
      ['b/1.csv', 'c/1.csv'],
    )
    assert.ok(
      folds[3].train.every((f) => f.name.endsWith('#first')) && folds[3].test.every((f) => f.name.endsWith('#second')),
    )
  })

  it('scores the left-out part at the threshold chosen on the rest', () => {
    // training files reward a threshold of 1 (a hit at the start of each window); the test file is
    // scored at it: its early detection counts, a window without one costs
    const train = [file('a/1.csv', 1000, [700], [[700, 750]]), file('a/2.csv', 1000, [300], [[300, 350]])]
    const test = [
      file(
        'b/1.csv',
        1000,
        [600],
        [
          [600, 650],
          [800, 850],
        ],
      ),
    ]
    const s = scoreFold({ name: 'b', train, test }, PROFILES.standard)
    assert.equal(s.threshold, 1)
    assert.ok(s.normalized !== null && s.normalized > 40 && s.normalized < 60, `one of two windows: ${s.normalized}`)
    assert.equal(s.windowsFound, 1)
    assert.equal(s.windows, 2)
    // a category without windows has no normalised score, only its false positives
    const quiet = scoreFold({ name: 'c', train, test: [file('c/1.csv', 1000, [500], [])] }, PROFILES.standard)
    assert.equal(quiet.normalized, null)
    assert.equal(quiet.fp, 1)
    assert.deepEqual([quiet.windowsFound, quiet.windows], [0, 0])
    assert.ok(quiet.raw < 0)
  })

  it('counts the windows found, outside the probation, at a threshold', () => {
    // rows 0..149 are the probation (15 %): the window over 100..120 is not scored
    const f = file(
      'a/1.csv',
      1000,
      [100, 610, 900],
      [
        [100, 120],
        [600, 650],
        [800, 850],
      ],
    )
    assert.deepEqual(windowsFound([f], PROFILES.standard, 0.5), [1, 2])
    assert.deepEqual(windowsFound([f], PROFILES.standard, 1.1), [0, 2])
  })

  it('averages the folds that have windows and pools the categories', () => {
    const files = [
      file('a/1.csv', 1000, [700], [[700, 750]]),
      file('b/1.csv', 1000, [300], [[300, 350]]),
      file('c/1.csv', 1000, [], []),
    ]
    const r = crossValidate(files, 'standard')
    assert.equal(r.folds.length, 5)
    assert.equal(r.folds.filter((f) => f.normalized === null).length, 1)
    assert.ok(r.mean >= r.min && r.mean <= r.max)
    assert.ok(Number.isFinite(r.pooledCategories))
  })
})

describe('chained long series', () => {
  /** A data file of n rows (values from `start`) on its own clock, with windows over [from, to] rows. */
  const data = (category: string, name: string, n: number, start: number, windows: [number, number][]): DataFile => {
    const t0 = Date.UTC(2015, 1, 3) + start * 60_000
    const timestamps = Array.from({ length: n }, (_, i) => t0 + i * 60_000)
    return {
      name: `${category}/${name}`,
      category,
      file: name,
      timestampText: [],
      valueText: [],
      timestamps,
      values: Array.from({ length: n }, (_, i) => start + i),
      windows: windows.map(([a, b]) => [timestamps[a], timestamps[b]]),
    }
  }

  it('chains each category N files at a time, moving the windows with their rows', () => {
    const corpus = [
      data('a', 'x.csv', 10, 0, [[2, 4]]),
      data('a', 'y.csv', 5, 100, [[1, 3]]),
      data('a', 'z.csv', 4, 200, []),
      data('b', 'w.csv', 6, 300, [[0, 5]]),
    ]
    const chains = chainCorpus(corpus, 2)
    assert.deepEqual(
      chains.map((c) => [c.name, c.values.length]),
      [
        ['a/chain-0.csv', 15],
        ['a/chain-1.csv', 4],
        ['b/chain-0.csv', 6],
      ],
    )
    const [first] = chains
    assert.deepEqual(first.values.slice(9, 12), [9, 100, 101])
    // one clock, 5 minutes a row, with no gap at the seam
    assert.ok(first.timestamps.every((t, i) => i === 0 || t - first.timestamps[i - 1] === 300_000))
    // the second file's window over its rows 1..3 is now over rows 11..13
    assert.deepEqual(first.windows, [
      [first.timestamps[2], first.timestamps[4]],
      [first.timestamps[11], first.timestamps[13]],
    ])
    assert.equal(chains[2].category, 'b')
  })
})
