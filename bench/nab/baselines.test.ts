import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { normalTail } from '../../src/anomaly/stats'
import { WindowedGaussian } from './baselines'

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
