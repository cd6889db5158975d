import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { normalTail } from '../../src/observe/anomaly-detector/stats'
import {
  chiSquaredUpperQuantile,
  choleskyLower,
  forwardSolve,
  KnnCad,
  klDivergence,
  RelativeEntropy,
  WindowedGaussian,
} from './baselines'

describe('windowedGaussian reference detector', () => {
  it('scores the first point 0, then 1 - the two-sided Gaussian tail of the window so far', () => {
    const d = new WindowedGaussian()
    assert.equal(d.update(10), 0)
    d.update(12) // window {10}: sd 0 becomes 1e-6, so 12 is far out
    const window = [10, 12]
    const mean = 11
    const sd = Math.sqrt(window.reduce((a, v) => a + (v - mean) ** 2, 0) / window.length)
    const above = d.update(13)
    assert.equal(above, 1 - normalTail(Math.abs(13 - mean) / sd))
    // two-sided: as far below the mean scores the same
    const e = new WindowedGaussian()
    for (const v of [10, 12]) e.update(v)
    assert.equal(e.update(9), above)
  })

  it('refits every step once the window is full, and drops the oldest step', () => {
    const d = new WindowedGaussian(4, 2)
    for (const v of [0, 0, 0, 0]) d.update(v) // full window of zeros: sd 1e-6
    assert.ok(d.update(1) > 0.999, 'buffered, the model is still the zeros')
    assert.ok(d.update(1) > 0.999)
    // window is now [0, 0, 1, 1]: mean 0.5, sd 0.5
    assert.equal(d.update(0.5), 1 - normalTail(0))
    assert.equal(d.update(1.5), 1 - normalTail(2))
  })
})

describe('relativeEntropy reference detector', () => {
  it('uses the chi-squared 0.99 quantile with 4 degrees of freedom (13.2767)', () => {
    assert.ok(Math.abs(chiSquaredUpperQuantile(0.01, 4) - 13.2767) < 1e-3)
    assert.ok(Math.abs(chiSquaredUpperQuantile(0.05, 2) - 5.9915) < 1e-3)
    assert.throws(() => chiSquaredUpperQuantile(0.01, 3), /df must be even/)
  })

  it('KL divergence is 0 for equal histograms and infinite where the hypothesis has no mass', () => {
    assert.equal(klDivergence([0.5, 0.5], [0.5, 0.5]), 0)
    assert.equal(klDivergence([0.5, 0.5], [1, 0]), Number.POSITIVE_INFINITY)
    assert.ok(Math.abs(klDivergence([1, 0], [0.5, 0.5]) - Math.log(2)) < 1e-12)
  })

  it('scores 1 when a window matches no hypothesis, 0 while windows match a known one', () => {
    const d = new RelativeEntropy(0, 10)
    const scores: number[] = []
    // 104 points alternating in the low levels: the first full window becomes hypothesis 1
    for (let i = 0; i < 104; i++) scores.push(d.update(i % 2 === 0 ? 1 : 3))
    assert.deepEqual(scores.slice(0, 51), new Array(51).fill(0), 'no score before the first full window')
    assert.equal(Math.max(...scores), 0)
    // a jump to the top level: once enough of the window sits there, no hypothesis accepts it
    const high: number[] = []
    for (let i = 0; i < 60; i++) high.push(d.update(10))
    assert.ok(high.includes(1), 'the new distribution is flagged')
    assert.equal(high.filter((s) => s === 1).length < 60, true, 'and stops being flagged once it is a hypothesis')
    // a constant file has no range: every point scores 0
    const flat = new RelativeEntropy(5, 5)
    for (let i = 0; i < 100; i++) assert.equal(flat.update(5), 0)
  })
})

describe('knnCad reference detector', () => {
  const series = (n: number, f: (i: number) => number): number[] => Array.from({ length: n }, (_, i) => f(i))
  const wave = (i: number): number => Math.sin((2 * Math.PI * i) / 25) + 0.05 * Math.sin(i * 1.7)

  it('scores 0 through probation, low for the learned pattern, high for a break, then rests at 0.5 for P / 5 points', () => {
    const P = 200
    const d = new KnnCad(P)
    const scores = series(600, wave).map((v) => d.update(v))
    assert.deepEqual(scores.slice(0, P - 1), new Array(P - 1).fill(0))
    const normal = scores.slice(P, 600).sort((a, b) => a - b)
    assert.ok(
      normal[Math.floor(normal.length / 2)] < 0.9,
      `median of the learned pattern ${normal[Math.floor(normal.length / 2)]}`,
    )
    const broken = [d.update(8)]
    assert.ok(broken[0] >= 0.9965, `a value far off the pattern scores ${broken[0]}`)
    for (let i = 0; i < P / 5; i++) broken.push(d.update(wave(601 + i)))
    assert.deepEqual(broken.slice(1), new Array(P / 5).fill(0.5))
  })

  it('its distance is the squared Mahalanobis norm under the inverse Gram matrix', () => {
    const D = 3
    const g = [4, 2, 0.6, 2, 3, 0.4, 0.6, 0.4, 2]
    const x = [1, -2, 0.5]
    const l = choleskyLower(g, D)
    assert.ok(l !== null)
    const y = forwardSolve(l, x)
    const viaCholesky = y.reduce((a, v) => a + v * v, 0)
    // x' G^-1 x by solving G z = x with Cramer's rule
    const det = (m: number[]): number =>
      m[0] * (m[4] * m[8] - m[5] * m[7]) - m[1] * (m[3] * m[8] - m[5] * m[6]) + m[2] * (m[3] * m[7] - m[4] * m[6])
    const z = [0, 1, 2].map((c) => det(g.map((v, idx) => (idx % 3 === c ? x[Math.floor(idx / 3)] : v))) / det(g))
    const direct = x.reduce((a, v, i) => a + v * z[i], 0)
    assert.ok(Math.abs(viaCholesky - direct) < 1e-12, `${viaCholesky} vs ${direct}`)
    assert.equal(choleskyLower([1, 1, 1, 1], 2), null, 'a singular Gram matrix keeps the previous metric')
  })
})
