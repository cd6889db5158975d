import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import {
  PROFILES,
  optimizeThreshold,
  parseNabTimestamp,
  probationaryLength,
  scaledSigmoid,
  scoreAtThreshold,
  scoreProfile,
  sweepFile,
  type ScoredFile,
  type WindowLimits,
} from './scorer'
import { parseCsv } from './corpus'

const T0 = Date.UTC(2014, 0, 1)
const STEP = 5 * 60_000
const close = (a: number, b: number, eps = 1e-12): void => assert.ok(Math.abs(a - b) <= eps, `${a} != ${b}`)

/** A file of `n` rows with windows given as [firstRow, lastRow] (inclusive). */
function file(
  name: string,
  n: number,
  windowRows: [number, number][],
  detections: number[] = [],
  base = 0,
): ScoredFile {
  const timestamps = Array.from({ length: n }, (_, i) => T0 + i * STEP)
  const scores = new Array<number>(n).fill(base)
  for (const d of detections) scores[d] = 1
  const windows: WindowLimits[] = windowRows.map(([a, b]) => [timestamps[a], timestamps[b]])
  return { name, timestamps, scores, windows }
}

describe('NAB scoring', () => {
  it('scaled sigmoid matches the published values', () => {
    close(scaledSigmoid(-1), 0.9866142981514305)
    close(scaledSigmoid(-0.5), 0.8482836399575131)
    close(scaledSigmoid(0), 0)
    close(scaledSigmoid(1), -0.9866142981514305)
    assert.equal(scaledSigmoid(3.0001), -1)
  })

  it('probationary period is floor(15%) capped at 750 rows', () => {
    assert.equal(probationaryLength(4032), 604)
    assert.equal(probationaryLength(1243), 186)
    assert.equal(probationaryLength(10000), 750)
  })

  it('a perfect detector scores 100 and the null detector 0 on every profile', () => {
    const mk = (scores: 'perfect' | 'null' | 'zero'): ScoredFile[] => {
      const a = file(
        'x/a.csv',
        400,
        [
          [100, 139],
          [250, 289],
        ],
        scores === 'perfect' ? [100, 250] : [],
        scores === 'null' ? 0.5 : 0,
      )
      const b = file('x/b.csv', 300, [[200, 229]], scores === 'perfect' ? [200] : [], scores === 'null' ? 0.5 : 0)
      const c = file('x/c.csv', 300, [], [], scores === 'null' ? 0.5 : 0)
      return [a, b, c]
    }
    for (const profile of Object.keys(PROFILES)) {
      const perfect = scoreProfile(mk('perfect'), profile)
      close(perfect.rawScore, 3)
      close(perfect.normalizedScore, 100)
      assert.equal(perfect.nullScore, -3 * PROFILES[profile].fnWeight)
      close(scoreProfile(mk('null'), profile).normalizedScore, 0)
      close(scoreProfile(mk('zero'), profile).normalizedScore, 0)
    }
  })

  it('charges a false positive before any window the full fp weight', () => {
    // 100 rows, probation 15, window rows 50..59; detections at row 20 (FP) and row 50 (TP, window start)
    const f = file('x/fp.csv', 100, [[50, 59]], [20, 50])
    const std = scoreAtThreshold([f], PROFILES.standard, 1)
    close(std.score, 1 - 0.11)
    assert.equal(std.fp, 1)
    assert.equal(std.tp, 1)
    const lowFP = scoreAtThreshold([f], PROFILES.reward_low_FP_rate, 1)
    close(lowFP.score, 1 - 0.22)
    // normalised: 100 * (0.89 - (-1)) / (1 - (-1))
    close(scoreProfile([f], 'standard').normalizedScore, 94.5, 1e-9)
  })

  it('scales a false positive after a window by the sigmoid of its distance', () => {
    // window rows 50..59 (width 10); FP one window-length later at row 59 + 9 = 68: relative position 1
    const f = file('x/after.csv', 200, [[50, 59]], [68])
    const r = scoreAtThreshold([f], PROFILES.standard, 1)
    close(r.score, -1 + 0.11 * scaledSigmoid(1))
    // just after the window the FP costs almost nothing
    const g = file('x/after2.csv', 200, [[50, 59]], [60])
    close(scoreAtThreshold([g], PROFILES.standard, 1).score, -1 + 0.11 * scaledSigmoid(1 / 9))
  })

  it('counts only the earliest detection in a window, scaled by its position', () => {
    const W = 10
    // detection on the last row of the window: position -(1 / W)
    const last = file('x/last.csv', 200, [[50, 59]], [59])
    close(scoreAtThreshold([last], PROFILES.standard, 1).score, scaledSigmoid(-1 / W) / scaledSigmoid(-1))
    // detection in the middle: position -(59 - 55 + 1) / 10 = -0.5
    const mid = file('x/mid.csv', 200, [[50, 59]], [55, 57, 59])
    const r = scoreAtThreshold([mid], PROFILES.standard, 1)
    close(r.score, scaledSigmoid(-0.5) / scaledSigmoid(-1))
    assert.equal(r.tp, 3)
  })

  it('ignores detections during the probationary period', () => {
    const f = file('x/prob.csv', 100, [[50, 59]], [3, 14, 50])
    close(scoreAtThreshold([f], PROFILES.standard, 1).score, 1)
    const g = file('x/prob2.csv', 100, [[50, 59]], [15, 50])
    close(scoreAtThreshold([g], PROFILES.standard, 1).score, 1 - 0.11)
  })

  it('a missed window costs the fn weight', () => {
    const f = file(
      'x/miss.csv',
      200,
      [
        [50, 59],
        [120, 129],
      ],
      [120],
    )
    close(scoreAtThreshold([f], PROFILES.standard, 1).score, 1 - 1)
    close(scoreAtThreshold([f], PROFILES.reward_low_FN_rate, 1).score, 1 - 2)
  })

  it('sweeps every distinct score as a threshold and keeps the best for the corpus', () => {
    const f = file('x/sweep.csv', 200, [[50, 59]])
    const scores = f.scores as number[]
    scores[30] = 0.9 // FP (before any window)
    scores[52] = 0.8 // TP at relative position -0.8
    scores[150] = 0.7 // FP long after the window
    const best = optimizeThreshold([f], PROFILES.standard)
    assert.equal(best.threshold, 0.8)
    close(best.score, scaledSigmoid(-0.8) / scaledSigmoid(-1) - 0.11)
    // a threshold between distinct scores behaves like the next higher score
    close(scoreAtThreshold([f], PROFILES.standard, 0.75).score, best.score)
    // a threshold below every score detects everything
    const all = scoreAtThreshold([f], PROFILES.standard, -1)
    assert.equal(all.fp + all.tp, 200 - 30)
  })

  it('sweep scores match hand computation', () => {
    const f = file('x/s.csv', 40, [[20, 23]])
    const pts = sweepFile(f.timestamps, f.scores, f.windows, f.name, PROFILES.standard)
    assert.equal(pts[5].window, '\u0000probationary')
    assert.equal(pts[10].window, null)
    close(pts[10].sweepScore, -0.11)
    close(pts[20].sweepScore, 1)
    close(pts[23].sweepScore, scaledSigmoid(-0.25) / scaledSigmoid(-1))
    close(pts[26].sweepScore, 0.11 * scaledSigmoid(1))
    assert.equal(pts[39].sweepScore, -0.11)
  })

  it('parses NAB timestamps and CSVs with CRLF line ends', () => {
    assert.equal(parseNabTimestamp('2014-04-10 07:15:00.000000'), Date.UTC(2014, 3, 10, 7, 15))
    assert.equal(parseNabTimestamp('2014-04-10 07:15:00'), Date.UTC(2014, 3, 10, 7, 15))
    const { timestampText, valueText } = parseCsv(
      'timestamp,value\r\n2014-01-01 00:00:00,1.5\r\n2014-01-01 00:05:00,2\r\n',
    )
    assert.deepEqual(timestampText, ['2014-01-01 00:00:00', '2014-01-01 00:05:00'])
    assert.deepEqual(valueText, ['1.5', '2'])
  })
})
