import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { DEFAULT_EXCLUDED_FS_TYPES, loadObserveSettings, ObserveSettingsError, parseProbeTargets } from './observe'

describe('observation settings', () => {
  it('has the documented defaults', () => {
    const s = loadObserveSettings({})
    assert.deepEqual(s.PROBE_TARGETS, [])
    assert.equal(s.THRESHOLD_MEMORY_PERCENT, 60)
    assert.equal(s.THRESHOLD_CPU_PERCENT, 80)
    assert.equal(s.THRESHOLD_DISK_PERCENT, 95)
    assert.equal(s.ANOMALY_ENABLED, true)
    // A score alone never pages: latency must move 20 ms and 20 % of its usual level, percentages 10 points.
    assert.equal(s.ANOMALY_MIN_CHANGE_MS, 20)
    assert.equal(s.ANOMALY_MIN_CHANGE_RATIO, 0.2)
    assert.equal(s.ANOMALY_MIN_CHANGE_PERCENT, 10)
    assert.deepEqual(s.DISK_EXCLUDE_FSTYPES, DEFAULT_EXCLUDED_FS_TYPES)
    // Empty, as .env.example has it, is the default too.
    assert.deepEqual(loadObserveSettings({ DISK_EXCLUDE_FSTYPES: '' }).DISK_EXCLUDE_FSTYPES, DEFAULT_EXCLUDED_FS_TYPES)
    assert.deepEqual(loadObserveSettings({ DISK_EXCLUDE_FSTYPES: 'overlay, squashfs' }).DISK_EXCLUDE_FSTYPES, [
      'overlay',
      'squashfs',
    ])
  })

  it('bounds the minimum changes an anomaly needs', () => {
    const s = loadObserveSettings({
      ANOMALY_MIN_CHANGE_MS: '150',
      ANOMALY_MIN_CHANGE_RATIO: '0',
      ANOMALY_MIN_CHANGE_PERCENT: '5',
    })
    assert.equal(s.ANOMALY_MIN_CHANGE_MS, 150)
    assert.equal(s.ANOMALY_MIN_CHANGE_RATIO, 0)
    assert.equal(s.ANOMALY_MIN_CHANGE_PERCENT, 5)
    assert.throws(
      () => loadObserveSettings({ ANOMALY_MIN_CHANGE_MS: '-1', ANOMALY_MIN_CHANGE_PERCENT: '101' }),
      (e: unknown) => {
        assert.ok(e instanceof ObserveSettingsError)
        assert.match(e.problems.join('\n'), /ANOMALY_MIN_CHANGE_MS: expected a number from 0 to 3600000, got "-1"/)
        assert.match(e.problems.join('\n'), /ANOMALY_MIN_CHANGE_PERCENT: expected a number from 0 to 100, got "101"/)
        return true
      },
    )
  })

  it('names every bad variable', () => {
    assert.throws(
      () => loadObserveSettings({ ANOMALY_ENABLED: 'sometimes', ANOMALY_THRESHOLD: '2' }),
      (e: unknown) => {
        assert.ok(e instanceof ObserveSettingsError, 'an ObserveSettingsError')
        assert.match(e.problems.join('\n'), /ANOMALY_ENABLED: expected true or false, got "sometimes"/)
        assert.match(e.problems.join('\n'), /ANOMALY_THRESHOLD: expected a number from 0 to 1, got "2"/)
        return true
      },
    )
    assert.throws(
      () => loadObserveSettings({ THRESHOLD_CPU_PERCENT: 'lots', PROBE_TARGETS: 'ftp://x' }),
      (e: unknown) => {
        assert.ok(e instanceof ObserveSettingsError)
        assert.equal(e.problems.length, 2)
        assert.match(e.problems.join('\n'), /PROBE_TARGETS: "ftp:\/\/x\/?" is not http\(s\)/)
        assert.match(e.problems.join('\n'), /THRESHOLD_CPU_PERCENT: expected a number from 0 to 100, got "lots"/)
        return true
      },
    )
  })

  it('reads probe targets, never echoing a password', () => {
    assert.deepEqual(parseProbeTargets(' http://127.0.0.1:8080/health, https://127.0.0.1/x ,'), [
      'http://127.0.0.1:8080/health',
      'https://127.0.0.1/x',
    ])
    assert.deepEqual(parseProbeTargets(undefined), [])
    assert.throws(
      () => parseProbeTargets('ftp://user:hunter2@example.com/'),
      (e: Error) => /^PROBE_TARGETS: "ftp:\/\/example.com\/" is not http\(s\)$/.test(e.message),
    )
  })
})
