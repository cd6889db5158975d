import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { parseCron, parseDuration, parseFreezeWindows } from './freeze-windows'

describe('freeze windows: parsing', () => {
  test('full syntax with names, ranges, steps and labels', () => {
    const [a, b] = parseFreezeWindows(
      '0 22 * * FRI|2d12h|Europe/Berlin|weekend freeze; */15 8-18/2 1,15 jan-mar 1-5|90m|UTC',
    )
    assert.equal(a.label, 'weekend freeze')
    assert.equal(a.timeZone, 'Europe/Berlin')
    assert.deepEqual([...a.cron.daysOfWeek], [5])
    assert.deepEqual(a.duration, { days: 2, ms: 12 * 3_600_000 })
    assert.deepEqual(b.cron.minutes, [0, 15, 30, 45])
    assert.deepEqual(b.cron.hours, [8, 10, 12, 14, 16, 18])
    assert.deepEqual([...b.cron.months].sort(), [1, 2, 3])
    assert.deepEqual(
      [...b.cron.daysOfMonth].sort((x, y) => x - y),
      [1, 15],
    )
    assert.equal(b.label, undefined)
    assert.deepEqual([...parseCron('0 0 * * 7').daysOfWeek], [0], '7 is Sunday')
    assert.deepEqual(parseCron('5/20 * * * *').minutes, [5, 25, 45])
    assert.deepEqual(parseFreezeWindows(''), [])
    assert.deepEqual(parseFreezeWindows(undefined), [])
  })

  const bad: [string, RegExp][] = [
    ['0 22 * *|1h|UTC', /window 1 of 1: cron "0 22 \* \*" must have 5 fields/],
    ['60 22 * * *|1h|UTC', /minute field "60": 60 is outside 0-59/],
    ['0 22 * * FRY|1h|UTC', /day-of-week field "FRY": "FRY" is not a number or a name/],
    ['0 5-2 * * *|1h|UTC', /range 5-2 runs backwards/],
    ['0 */0 * * *|1h|UTC', /step must be at least 1/],
    ['0 22 * * *|1x|UTC', /duration "1x" must look like 60h/],
    ['0 22 * * *|0h|UTC', /longer than zero/],
    ['0 22 * * *|32d|UTC', /longer than 31 days/],
    ['0 22 * * *|1h|Mars/Olympus', /time zone "Mars\/Olympus" is not an IANA time zone/],
    ['0 22 * * *|1h', /must be <cron>\|<duration>\|<time zone>/],
    ['0 22 * * *|1h|UTC;;0 1 * * *|1h|UTC', /window 2 of 3 is empty/],
  ]
  for (const [spec, message] of bad) {
    test(`rejects ${JSON.stringify(spec)}`, () => {
      assert.throws(
        () => parseFreezeWindows(spec),
        (e: Error) =>
          e.name === 'FreezeConfigError' && e.message.startsWith('FREEZE_WINDOWS: ') && message.test(e.message),
      )
    })
  }
  test('durations', () => {
    assert.deepEqual(parseDuration('60h'), { days: 0, ms: 60 * 3_600_000 })
    assert.deepEqual(parseDuration('1d30m'), { days: 1, ms: 30 * 60_000 })
    assert.throws(() => parseDuration('30m1h'), /in that order/)
  })
})
