import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { parseFreezeWindows } from '../platform/config/freeze-windows'
import { activeFreeze, describeFreeze, wallClock, windowStarts, zonedToInstant } from './freeze'

const at = (iso: string) => Date.parse(iso)
const active = (spec: string, iso: string) => activeFreeze(at(iso), parseFreezeWindows(spec))
const endsAt = (spec: string, iso: string) => active(spec, iso)?.endsAt.toISOString() ?? null

describe('freeze windows: activeFreeze', () => {
  test('a window crossing midnight is active on both sides of it, and only until its end', () => {
    const spec = '0 22 * * *|4h|UTC'
    assert.equal(active(spec, '2025-01-10T21:59:59Z'), null)
    assert.equal(endsAt(spec, '2025-01-10T22:00:00Z'), '2025-01-11T02:00:00.000Z')
    assert.equal(endsAt(spec, '2025-01-10T23:59:00Z'), '2025-01-11T02:00:00.000Z')
    assert.equal(endsAt(spec, '2025-01-11T01:59:59Z'), '2025-01-11T02:00:00.000Z')
    assert.equal(active(spec, '2025-01-11T02:00:00Z'), null)
    const f = active(spec, '2025-01-11T00:30:00Z')!
    assert.equal(f.startedAt.toISOString(), '2025-01-10T22:00:00.000Z')
    assert.match(describeFreeze(f), /^0 22 \* \* \*\|4h\|UTC until 2025-01-11T02:00:00.000Z$/)
  })

  test('a weekend window in its own zone: Friday 22:00 Berlin for 60 h', () => {
    const spec = '0 22 * * FRI|60h|Europe/Berlin|weekend'
    // 2025-01-10 is a Friday; 22:00 CET is 21:00Z.
    assert.equal(active(spec, '2025-01-10T20:59:00Z'), null)
    assert.equal(endsAt(spec, '2025-01-10T21:00:00Z'), '2025-01-13T09:00:00.000Z')
    assert.equal(endsAt(spec, '2025-01-12T12:00:00Z'), '2025-01-13T09:00:00.000Z')
    assert.equal(active(spec, '2025-01-13T09:00:00Z'), null)
    assert.equal(active(spec, '2025-01-15T21:30:00Z'), null, 'a Wednesday')
  })

  test('Europe/Berlin daily 01:30 for 2 h on the spring-forward date (2024-03-31, 02:00 CET → 03:00 CEST)', () => {
    const spec = '30 1 * * *|2h|Europe/Berlin'
    // 01:30 CET = 00:30Z; two elapsed hours later it is 02:30Z = 04:30 CEST on the wall.
    assert.equal(active(spec, '2024-03-31T00:29:00Z'), null)
    const f = active(spec, '2024-03-31T01:45:00Z')! // 03:45 CEST
    assert.equal(f.startedAt.toISOString(), '2024-03-31T00:30:00.000Z')
    assert.equal(f.endsAt.toISOString(), '2024-03-31T02:30:00.000Z')
    assert.equal(active(spec, '2024-03-31T02:30:00Z'), null)
    // The day after, in summer time: 01:30 CEST = 23:30Z the evening before.
    assert.equal(endsAt(spec, '2024-03-31T23:30:00Z'), '2024-04-01T01:30:00.000Z')
  })

  test('Europe/Berlin daily 01:30 for 2 h on the fall-back date (2024-10-27, 03:00 CEST → 02:00 CET)', () => {
    const spec = '30 1 * * *|2h|Europe/Berlin'
    // 01:30 CEST = 23:30Z on the 26th; ends at 01:30Z = 02:30 CET, the second 02:30 of that night.
    assert.equal(endsAt(spec, '2024-10-26T23:30:00Z'), '2024-10-27T01:30:00.000Z')
    assert.equal(endsAt(spec, '2024-10-27T00:45:00Z'), '2024-10-27T01:30:00.000Z') // 02:45 CEST
    assert.equal(endsAt(spec, '2024-10-27T01:15:00Z'), '2024-10-27T01:30:00.000Z') // 02:15 CET
    assert.equal(active(spec, '2024-10-27T01:30:00Z'), null)
  })

  test('Europe/Berlin: a start inside the spring-forward gap moves past it; a repeated start time starts once', () => {
    const spec = '30 2 * * *|1h|Europe/Berlin'
    // 02:30 does not exist on 2024-03-31: the window starts at 03:30 CEST = 01:30Z.
    assert.equal(active(spec, '2024-03-31T01:15:00Z'), null)
    assert.equal(endsAt(spec, '2024-03-31T01:30:00Z'), '2024-03-31T02:30:00.000Z')
    // 02:30 happens twice on 2024-10-27: the first (CEST, 00:30Z) starts it; the second (CET, 01:30Z) does not again.
    assert.equal(endsAt(spec, '2024-10-27T00:30:00Z'), '2024-10-27T01:30:00.000Z')
    assert.equal(active(spec, '2024-10-27T01:45:00Z'), null)
    const starts = windowStarts(parseFreezeWindows(spec)[0], at('2024-10-26T12:00:00Z'), at('2024-10-27T12:00:00Z'))
    assert.deepEqual(
      starts.map((t) => new Date(t).toISOString()),
      ['2024-10-27T00:30:00.000Z'],
    )
  })

  test('America/New_York daily 01:30 for 2 h across both changes of 2024', () => {
    const spec = '30 1 * * *|2h|America/New_York'
    // 2024-03-10, 02:00 EST → 03:00 EDT: 01:30 EST = 06:30Z, ends 08:30Z = 04:30 EDT.
    assert.equal(endsAt(spec, '2024-03-10T07:30:00Z'), '2024-03-10T08:30:00.000Z')
    assert.equal(active(spec, '2024-03-10T08:30:00Z'), null)
    assert.equal(active(spec, '2024-03-10T06:29:00Z'), null)
    // 2024-11-03, 02:00 EDT → 01:00 EST: 01:30 happens at 05:30Z (EDT) and 06:30Z (EST); the first counts.
    const f = active(spec, '2024-11-03T06:45:00Z')! // 01:45 EST, the second pass
    assert.equal(f.startedAt.toISOString(), '2024-11-03T05:30:00.000Z')
    assert.equal(f.endsAt.toISOString(), '2024-11-03T07:30:00.000Z')
    assert.equal(active(spec, '2024-11-03T07:30:00Z'), null)
  })

  test('calendar days keep the wall-clock end across a DST change; hours are elapsed time', () => {
    // Friday 2024-11-01 22:00 EDT = 02:00Z on the 2nd; the clocks go back on Sunday.
    const days = '0 22 * * FRI|2d12h|America/New_York'
    const hours = '0 22 * * FRI|60h|America/New_York'
    assert.equal(endsAt(days, '2024-11-03T12:00:00Z'), '2024-11-04T15:00:00.000Z') // Monday 10:00 EST
    assert.equal(endsAt(hours, '2024-11-03T12:00:00Z'), '2024-11-04T14:00:00.000Z') // Monday 09:00 EST
    assert.equal(endsAt(days, '2024-11-04T14:30:00Z'), '2024-11-04T15:00:00.000Z')
    assert.equal(active(hours, '2024-11-04T14:30:00Z'), null)
  })

  test("cron's either-day rule, and the longest of overlapping windows wins", () => {
    // The 1st of the month or any Monday. 2025-01-06 is a Monday, 2025-01-07 a Tuesday.
    const spec = '0 0 1 * MON|1h|UTC'
    assert.ok(active(spec, '2025-01-06T00:30:00Z'))
    assert.ok(active(spec, '2025-02-01T00:30:00Z'))
    assert.equal(active(spec, '2025-01-07T00:30:00Z'), null)
    const both = active('0 0 * * *|1h|UTC|short;0 0 * * *|3h|UTC|long', '2025-01-07T00:30:00Z')!
    assert.equal(both.window.label, 'long')
  })

  test('every-minute window over a month still answers (the steady-day fast path)', () => {
    // The latest start is 03:00 CEST (01:00Z); 31 calendar days on is 1 May 03:00 CEST.
    assert.equal(endsAt('* * * * *|31d|Europe/Berlin', '2024-03-31T01:00:30Z'), '2024-05-01T01:00:00.000Z')
  })
})

describe('zonedToInstant', () => {
  test('round-trips every quarter hour around the 2024 changes in several zones', () => {
    // [zone, first of three days swept, quarter hours skipped by a spring-forward gap]
    const zones: [string, string, number][] = [
      ['Europe/Berlin', '2024-03-30', 4],
      ['Europe/Berlin', '2024-10-26', 0],
      ['America/New_York', '2024-03-09', 4],
      ['America/New_York', '2024-11-02', 0],
      ['Australia/Lord_Howe', '2024-04-06', 0], // falls back only 30 minutes
      ['Australia/Lord_Howe', '2024-10-05', 2], // springs forward 30 minutes
      ['Asia/Kolkata', '2024-03-30', 0],
    ]
    for (const [zone, day, expectedGaps] of zones) {
      let gaps = 0
      for (let q = 0; q < 4 * 72; q++) {
        const base = new Date(`${day}T00:00:00Z`)
        base.setUTCMinutes(q * 15)
        const [y, mo, d, h, mi] = [
          base.getUTCFullYear(),
          base.getUTCMonth() + 1,
          base.getUTCDate(),
          base.getUTCHours(),
          base.getUTCMinutes(),
        ]
        const t = zonedToInstant(y, mo, d, h, mi, zone)
        const w = wallClock(t, zone)
        if (w.year === y && w.month === mo && w.day === d && w.hour === h && w.minute === mi) {
          // For a repeated wall time the earlier instant is chosen: 1 h (or 30 min) earlier must not show it too.
          for (const back of [30, 60]) {
            const e = wallClock(t - back * 60_000, zone)
            assert.ok(
              !(e.day === d && e.hour === h && e.minute === mi),
              `${zone} ${base.toISOString()} had an earlier instant`,
            )
          }
        } else {
          gaps++
          // A time in the gap lands after it, later on the wall by the gap's length (30 or 60 minutes).
          const shift = Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute) - Date.UTC(y, mo - 1, d, h, mi)
          assert.ok(shift === 30 * 60_000 || shift === 60 * 60_000, `${zone} ${base.toISOString()} shifted by ${shift}`)
        }
      }
      assert.equal(gaps, expectedGaps, `${zone} ${day}`)
    }
  })
})
