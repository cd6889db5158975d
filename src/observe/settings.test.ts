import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Monitor } from './monitor'
import { loadObserveSettings, monitorOptionsFromSettings, ObserveSettingsError } from './settings'

describe('observation settings', () => {
  it('has the documented defaults', () => {
    const s = loadObserveSettings({})
    assert.deepEqual(s.PROBE_TARGETS, [])
    assert.equal(s.THRESHOLD_MEMORY_PERCENT, 60)
    assert.equal(s.THRESHOLD_DISK_PERCENT, 95)
    const monitor = new Monitor({ ...monitorOptionsFromSettings(s), tracker: undefined, history: false })
    assert.equal(monitor.checkRules.cpu.threshold, 80)
    assert.equal(monitor.checkRules.latency.threshold, 200)
    assert.equal(monitor.prober, undefined)
    assert.equal(monitor.anomaly?.threshold, 0.5)
    assert.equal(monitor.anomaly?.baselinePoints, 15)
    assert.equal(monitor.anomaly?.adaptAfterMs, 1_800_000)
  })

  it('reads the anomaly settings, turns scoring off, and names bad variables', () => {
    const s = loadObserveSettings({ ANOMALY_THRESHOLD: '0.7', ANOMALY_FOR_SECONDS: '30', ANOMALY_BASELINE_POINTS: '40', ANOMALY_MIN_CHANGE_MS: '50' })
    const opts = monitorOptionsFromSettings(s)
    assert.deepEqual(opts.anomaly, { threshold: 0.7, baselinePoints: 40, adaptAfterMs: 1_800_000, minChange: { ms: 50, percent: 10, ratio: 0.2 } })
    assert.deepEqual((opts.tracker as { forMsByType?: unknown }).forMsByType, { anomaly: 30_000 })
    const off = new Monitor({ ...monitorOptionsFromSettings(loadObserveSettings({ ANOMALY_ENABLED: 'false' })), tracker: undefined, history: false })
    assert.equal(off.anomaly, undefined)
    assert.throws(() => loadObserveSettings({ ANOMALY_ENABLED: 'sometimes', ANOMALY_THRESHOLD: '2' }), (e: unknown) => {
      assert.ok(e instanceof ObserveSettingsError, 'an ObserveSettingsError')
      assert.match(e.problems.join('\n'), /ANOMALY_ENABLED: expected true or false, got "sometimes"/)
      assert.match(e.problems.join('\n'), /ANOMALY_THRESHOLD: expected a number from 0 to 1, got "2"/)
      return true
    })
  })

  it('reads targets and thresholds, and names bad variables', () => {
    const s = loadObserveSettings({ PROBE_TARGETS: 'http://127.0.0.1:8080/health, https://127.0.0.1/x', THRESHOLD_CPU_PERCENT: '90', DISK_EXCLUDE_FSTYPES: 'overlay,squashfs' })
    assert.deepEqual(s.PROBE_TARGETS, ['http://127.0.0.1:8080/health', 'https://127.0.0.1/x'])
    const monitor = new Monitor({ ...monitorOptionsFromSettings(s), tracker: undefined, history: false })
    assert.equal(monitor.checkRules.cpu.threshold, 90)
    assert.deepEqual(monitor.prober?.targets, s.PROBE_TARGETS)
    assert.throws(() => loadObserveSettings({ THRESHOLD_CPU_PERCENT: 'lots', PROBE_TARGETS: 'ftp://x' }), (e: unknown) => {
      assert.ok(e instanceof ObserveSettingsError)
      assert.equal(e.problems.length, 2)
      assert.match(e.problems.join('\n'), /PROBE_TARGETS: "ftp:\/\/x\/?" is not http\(s\)/)
      assert.match(e.problems.join('\n'), /THRESHOLD_CPU_PERCENT: expected a number from 0 to 100, got "lots"/)
      return true
    })
  })
})
