import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { loadObserveSettings } from '../platform/config/observe'
import { Monitor } from './monitor'
import { monitorOptionsFromSettings } from './settings'

describe('the Monitor from the observation settings', () => {
  it('takes the documented defaults', () => {
    const monitor = new Monitor({
      ...monitorOptionsFromSettings(loadObserveSettings({})),
      tracker: undefined,
      history: false,
    })
    assert.equal(monitor.checkRules.cpu.threshold, 80)
    assert.equal(monitor.checkRules.latency.threshold, 200)
    assert.equal(monitor.prober, undefined)
    assert.equal(monitor.anomaly?.threshold, 0.5)
    assert.equal(monitor.anomaly?.baselinePoints, 15)
    assert.equal(monitor.anomaly?.adaptAfterMs, 1_800_000)
  })

  it('takes the anomaly settings, and turns scoring off', () => {
    const s = loadObserveSettings({
      ANOMALY_THRESHOLD: '0.7',
      ANOMALY_FOR_SECONDS: '30',
      ANOMALY_BASELINE_POINTS: '40',
      ANOMALY_MIN_CHANGE_MS: '50',
    })
    const opts = monitorOptionsFromSettings(s)
    assert.deepEqual(opts.anomaly, {
      threshold: 0.7,
      baselinePoints: 40,
      adaptAfterMs: 1_800_000,
      minChange: { ms: 50, percent: 10, ratio: 0.2 },
    })
    assert.deepEqual((opts.tracker as { forMsByType?: unknown }).forMsByType, { anomaly: 30_000 })
    const off = new Monitor({
      ...monitorOptionsFromSettings(loadObserveSettings({ ANOMALY_ENABLED: 'false' })),
      tracker: undefined,
      history: false,
    })
    assert.equal(off.anomaly, undefined)
  })

  it('takes targets and thresholds', () => {
    const s = loadObserveSettings({
      PROBE_TARGETS: 'http://127.0.0.1:8080/health, https://127.0.0.1/x',
      THRESHOLD_CPU_PERCENT: '90',
      DISK_EXCLUDE_FSTYPES: 'overlay,squashfs',
    })
    assert.deepEqual(s.PROBE_TARGETS, ['http://127.0.0.1:8080/health', 'https://127.0.0.1/x'])
    const monitor = new Monitor({ ...monitorOptionsFromSettings(s), tracker: undefined, history: false })
    assert.equal(monitor.checkRules.cpu.threshold, 90)
    assert.deepEqual(monitor.prober?.targets, s.PROBE_TARGETS)
  })
})
