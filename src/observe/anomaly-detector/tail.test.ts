import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { valueTailAdd, valueTailCreate, valueTailLog10, valueTailRefresh, type ValueTailShape } from './tail'

const shape: ValueTailShape = { blocks: 8, blockSize: 256, keep: 14 }

function fitted(values: number[], minBeta: number) {
  const t = valueTailCreate()
  for (const v of values) valueTailAdd(t, v, shape)
  valueTailRefresh(t, 0.995, minBeta, shape)
  return t
}

describe('value tails', () => {
  it('fits the q-quantile and the mean excess beyond it', () => {
    // 0..999: the 0.995 quantile is 995, and 4 values lie above it, by 1..4 (mean 2.5)
    const t = fitted(
      Array.from({ length: 1000 }, (_, i) => i),
      0,
    )
    assert.equal(t.uHi, 995)
    assert.equal(t.betaHi, 2.5)
    assert.equal(t.fracHi, 4 / 1000)
    assert.equal(valueTailLog10(t, 500), 0, 'inside the bulk')
    assert.ok(
      Math.abs(valueTailLog10(t, 995 + 2.5) - (Math.log10(4 / 1000) - Math.LOG10E)) < 1e-12,
      'one mean excess beyond: e^-1 of the tail',
    )
  })

  it('fits each side on its own values (they share a scratch buffer)', () => {
    // an upper tail 10 apart and a lower tail 0.1 apart
    const values = Array.from({ length: 995 }, (_, i) => i * 0.1).concat([200, 210, 220, 230, 240])
    const t = fitted(values, 0)
    assert.equal(t.uHi, 200)
    assert.equal(t.betaHi, 25, 'excesses 10, 20, 30, 40 over 200')
    assert.ok(Math.abs(t.uLo - 0.4) < 1e-12)
    assert.ok(Math.abs(t.betaLo - 0.25) < 1e-12, `excesses 0.1..0.4 under 0.4: ${t.betaLo}`)
  })

  it('never takes a mean excess below minBeta times the range', () => {
    const flatTop = Array.from({ length: 300 }, (_, i) => (i % 10 === 0 ? 10 : i % 7))
    const t = fitted(flatTop, 0.02)
    assert.ok(t.betaHi >= 0.02 * 10 - 1e-9, `beta ${t.betaHi}`)
  })
})
