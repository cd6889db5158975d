import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { parseCanaryPercents } from '../platform/config/index'
import { canaryShare, canarySteps, DEFAULT_GATE, evaluateGate, type GroupReading, median } from './gate'

const group = (g: Partial<GroupReading> = {}): GroupReading => ({
  desired: 1,
  running: 1,
  failed: 0,
  unhealthy: 0,
  probeOk: 0,
  probeErrors: 0,
  latenciesMs: [],
  ...g,
})
const settings = { ...DEFAULT_GATE, gateMs: 10_000, startTimeoutMs: 5_000, minProbeSamples: 4, minFailSamples: 3 }
const healthyProbes = (n: number, ms = 20) => ({ probeOk: n, probeErrors: 0, latenciesMs: Array(n).fill(ms) })

describe('evaluateGate', () => {
  it('watches until the window has passed, then passes a canary as good as the old tasks', () => {
    const input = { canary: group(healthyProbes(6)), baseline: group({ desired: 6, running: 6, ...healthyProbes(30) }) }
    assert.equal(evaluateGate({ ...input, elapsedMs: 4000, probe: true, promql: false }, settings).state, 'watching')
    const v = evaluateGate({ ...input, elapsedMs: 10_000, probe: true, promql: false }, settings)
    assert.equal(v.state, 'pass')
    assert.equal(v.comparison.canary.errorRate, 0)
    assert.equal(v.comparison.baseline.running, 6)
  })

  it('fails at once on a canary task failure, without waiting for the window', () => {
    const v = evaluateGate(
      {
        canary: group({ failed: 1 }),
        baseline: group({ desired: 6, running: 6 }),
        elapsedMs: 800,
        probe: false,
        promql: false,
      },
      settings,
    )
    assert.equal(v.state, 'fail')
    assert.match(v.state === 'fail' ? v.reasons[0] : '', /1 canary task failure\(s\) against 0/)
  })

  it('counts the old tasks failing in the same time as noise', () => {
    const v = evaluateGate(
      { canary: group({ failed: 1 }), baseline: group({ failed: 1 }), elapsedMs: 800, probe: false, promql: false },
      settings,
    )
    assert.equal(v.state, 'watching')
  })

  it('fails an unhealthy canary task', () => {
    const v = evaluateGate(
      { canary: group({ unhealthy: 1 }), baseline: group(), elapsedMs: 100, probe: false, promql: false },
      settings,
    )
    assert.equal(v.state, 'fail')
  })

  it('judges the error rate only with enough canary answers, against the old tasks’ rate', () => {
    const baseline = group({ probeOk: 90, probeErrors: 10, latenciesMs: [] })
    // 2 answers, all errors: not enough to judge yet
    let v = evaluateGate(
      { canary: group({ probeErrors: 2 }), baseline, elapsedMs: 1000, probe: true, promql: false },
      settings,
    )
    assert.equal(v.state, 'watching')
    // 10 % on the old tasks, 14 % on the canary: within five points
    v = evaluateGate(
      { canary: group({ probeOk: 6, probeErrors: 1 }), baseline, elapsedMs: 1000, probe: true, promql: false },
      settings,
    )
    assert.equal(v.state, 'watching')
    // 50 %: fails, and says both rates
    v = evaluateGate(
      { canary: group({ probeOk: 2, probeErrors: 2 }), baseline, elapsedMs: 1000, probe: true, promql: false },
      settings,
    )
    assert.equal(v.state, 'fail')
    assert.match(v.state === 'fail' ? v.reasons.join() : '', /50\.0 % on the canary against 10\.0 %/)
  })

  it('fails on fewer answers than it needs to pass: a failing canary reaches few requests', () => {
    const v = evaluateGate(
      {
        canary: group({ probeErrors: 3 }),
        baseline: group(healthyProbes(3)),
        elapsedMs: 900,
        probe: true,
        promql: false,
      },
      { ...settings, minProbeSamples: 5 },
    )
    assert.equal(v.state, 'fail')
  })

  it('fails a canary much slower than the old tasks, not one a little slower', () => {
    const baseline = group(healthyProbes(20, 40))
    const slow = evaluateGate(
      { canary: group(healthyProbes(5, 400)), baseline, elapsedMs: 1000, probe: true, promql: false },
      settings,
    )
    assert.equal(slow.state, 'fail')
    const bit = evaluateGate(
      { canary: group(healthyProbes(5, 90)), baseline, elapsedMs: 1000, probe: true, promql: false },
      settings,
    )
    assert.equal(bit.state, 'watching')
  })

  it('compares the PromQL values when configured', () => {
    const v = evaluateGate(
      {
        canary: group({ promql: 0.3 }),
        baseline: group({ promql: 0.01 }),
        elapsedMs: 1000,
        probe: false,
        promql: true,
      },
      settings,
    )
    assert.equal(v.state, 'fail')
    const ok = evaluateGate(
      {
        canary: group({ promql: 0.012 }),
        baseline: group({ promql: 0.01 }),
        elapsedMs: 1000,
        probe: false,
        promql: true,
      },
      settings,
    )
    assert.equal(ok.state, 'watching')
  })

  it('fails a canary that does not start within the start timeout', () => {
    const input = { canary: group({ running: 0 }), baseline: group(), probe: false, promql: false }
    assert.equal(evaluateGate({ ...input, elapsedMs: 4000 }, settings).state, 'watching')
    assert.equal(evaluateGate({ ...input, elapsedMs: 6000 }, settings).state, 'fail')
  })

  it('does not pass without enough probe answers, however long the window', () => {
    const v = evaluateGate(
      {
        canary: group(healthyProbes(2)),
        baseline: group(healthyProbes(9)),
        elapsedMs: 60_000,
        probe: true,
        promql: false,
      },
      settings,
    )
    assert.equal(v.state, 'watching')
  })
})

describe('canarySteps', () => {
  it('is one task, then the counts that give each share beside all the old tasks', () => {
    assert.deepEqual(canarySteps(6, [25, 100]), [1, 2])
    assert.equal(canaryShare(2, 6), 0.25)
    assert.deepEqual(canarySteps(20, [25, 50, 100]), [1, 7, 20])
    // a share one task already gives is not a step of its own
    assert.deepEqual(canarySteps(2, [25]), [1])
  })
})

it('median', () => {
  assert.equal(median([]), null)
  assert.equal(median([3, 1, 2]), 2)
  assert.equal(median([4, 1, 2, 3]), 2.5)
})

it('CANARY_STEP_PERCENTS: rising percentages from 1 to 99, or the variable is named', () => {
  assert.deepEqual(parseCanaryPercents(undefined), [25])
  assert.deepEqual(parseCanaryPercents('10, 50'), [10, 50])
  assert.throws(() => parseCanaryPercents('50,25'), /CANARY_STEP_PERCENTS: the percentages must rise/)
  assert.throws(() => parseCanaryPercents('100'), /CANARY_STEP_PERCENTS: expected percentages from 1 to 99/)
  assert.throws(() => parseCanaryPercents('ten'), /CANARY_STEP_PERCENTS/)
})
