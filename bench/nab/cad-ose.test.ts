import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, it } from 'node:test'
import { ContextOse, PyIntDict, pyTupleHash } from './cad-ose'
import { loadCorpus } from './corpus'
import { probationaryLength } from './scorer'

const data = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'shared', 'nab')

/** Python 2's str(float): 12 significant digits, '.0' on whole numbers (how NAB's results files print scores). */
function py(x: number): string {
  const s = x.toPrecision(12)
  if (s.includes('e')) return s
  return s.includes('.') ? s.replace(/0+$/, '').replace(/\.$/, '.0') : `${s}.0`
}

/**
 * Rows of NAB's published contextOSE results (results/contextOSE/<category>/contextOSE_<file>.csv
 * in numenta/NAB), as runs: "MM-DD HH:MM score" or "MM-DD HH:MM score xN" for N equal rows.
 */
const PUBLISHED: { file: string; edition: 'published' | 'later'; runs: string }[] = [
  {
    file: 'realAWSCloudwatch/ec2_cpu_utilization_825cc2.csv',
    edition: 'published',
    runs:
      '04-15 12:14 0.110169491525 x28 | 04-15 14:34 0.271186440678 | 04-15 14:39 0.0918367346939 | 04-15 14:44 0.0833333333333 | ' +
      '04-15 14:49 0.0568181818182 | 04-15 14:54 0.0833333333333 | 04-15 14:59 0.110169491525 x9 | 04-15 15:44 0.271186440678 | ' +
      '04-15 15:49 0.386680988185 | 04-15 15:54 0.397058823529 | 04-15 15:59 0.497549019608 | 04-15 16:04 0.419444444444 | ' +
      '04-15 16:09 0.321266968326 | 04-15 16:14 0.185714285714 | 04-15 16:19 0.209356725146 | 04-15 16:24 0.0970149253731 | ' +
      '04-15 16:29 0.116666666667 x5 | 04-15 16:54 1.0 | 04-15 16:59 0.0 x122 | 04-16 03:09 0.138888888889 x4 | ' +
      '04-16 03:29 0.388888888889 | 04-16 03:34 1.0 | 04-16 03:39 0.0 x127 | 04-16 14:14 0.107142857143 | 04-16 14:19 0.847902097902 | 04-16 14:24 0.0 x27',
  },
  {
    file: 'realAWSCloudwatch/grok_asg_anomaly.csv',
    edition: 'published',
    runs:
      '01-23 04:20 0.255208333333 | 01-23 04:25 0.025641025641 | 01-23 04:30 0.0416666666667 | 01-23 04:35 0.0510204081633 | ' +
      '01-23 04:40 0.0625 x11 | 01-23 05:35 0.255208333333 | 01-23 05:40 0.025641025641 | 01-23 05:45 0.0416666666667 | ' +
      '01-23 05:50 0.0510204081633 | 01-23 05:55 0.0625 x4 | 01-23 06:15 0.255208333333 | 01-23 06:20 0.025641025641 | ' +
      '01-23 06:25 0.0416666666667 | 01-23 06:30 0.0510204081633 | 01-23 06:35 0.0625 x5 | 01-23 07:00 0.255208333333 | ' +
      '01-23 07:05 0.025641025641 | 01-23 07:10 0.0416666666667 | 01-23 07:15 0.0510204081633 | 01-23 07:20 0.0625 x11 | ' +
      '01-23 08:15 0.255208333333 | 01-23 08:20 0.025641025641 | 01-23 08:25 0.0416666666667 | 01-23 08:30 0.0510204081633 | ' +
      '01-23 08:35 0.0625 x12 | 01-23 09:35 0.40625 | 01-23 09:40 0.933760683761 | 01-23 09:45 0.0 x138 | ' +
      '01-23 21:15 0.110619469027 x26 | 01-23 23:25 0.238938053097 | 01-23 23:30 0.0728155339806 | 01-23 23:35 0.0932203389831 | ' +
      '01-23 23:40 0.102564102564 | 01-23 23:45 0.110619469027 x7',
  },
  {
    file: 'realAWSCloudwatch/ec2_cpu_utilization_24ae8d.csv',
    edition: 'published',
    runs:
      '02-25 08:20 0.04 x227 | 02-26 03:15 0.34 | 02-26 03:20 0.0 | 02-26 03:25 0.03125 | 02-26 03:30 0.0294117647059 | ' +
      '02-26 03:35 0.0217391304348 | 02-26 03:40 0.04 x10',
  },
  {
    file: 'artificialWithAnomaly/art_daily_jumpsup.csv',
    edition: 'published',
    runs:
      '04-10 16:00 0.113475177305 | 04-10 16:05 0.11038961039 | 04-10 16:10 0.251428571429 | 04-10 16:15 0.102339181287 | ' +
      '04-10 16:20 0.25 | 04-10 16:25 0.237846358055 | 04-10 18:00 0.437914517318 | 04-10 18:05 0.266283524904 | ' +
      '04-10 18:10 0.203594771242 | 04-10 18:15 0.20485567241 | 04-10 18:20 0.192660550459 x110',
  },
  {
    file: 'artificialWithAnomaly/art_daily_jumpsup.csv',
    edition: 'later',
    runs:
      '04-10 16:00 0.111842105263 | 04-10 16:05 0.107382550336 | 04-10 16:10 0.25 | 04-10 16:15 0.0977653631285 | ' +
      '04-10 16:20 0.251724137931 | 04-10 18:00 0.473135525261 | 04-10 18:05 0.357859531773 | 04-10 18:10 0.0 x177 | ' +
      '04-11 09:00 1.0 | 04-11 09:05 0.0 x30',
  },
]

describe('contextOSE reproduction', () => {
  it('hashes tuples of ints as Python 2.7 does on 64 bits (the tie-break between equally active contexts)', () => {
    assert.equal(pyTupleHash([0, 2, 4]), 1267307236350160189n)
    assert.equal(pyTupleHash([65536, 65538, 65540]), -4455757042315825859n)
    assert.equal(pyTupleHash([0, 3, 4, 2147483648, 2147483713]), -6580484468799346869n)
  })

  it("iterates an int-keyed dict in Python 2.7's order (which decides the ids of new contexts)", () => {
    const d = new PyIntDict()
    ;[5, 2, 13, 21, 8, 3, 40, 1, 29, 37].forEach((k, i) => d.setdefault(k, i))
    const keys: number[] = []
    d.forEach((k) => keys.push(k))
    assert.deepEqual(keys, [1, 2, 3, 5, 8, 13, 40, 21, 29, 37])
    assert.equal(d.setdefault(13, 99), 2, 'setdefault keeps the stored value')
  })

  it('gives the published per-row scores of the local files it is checked on', { skip: !existsSync(data) }, () => {
    const corpus = loadCorpus(data)
    for (const { file, edition, runs } of PUBLISHED) {
      const f = corpus.find((c) => c.name === file)
      assert.ok(f, file)
      const min = Math.min(...f.values)
      const max = Math.max(...f.values)
      const rest = probationaryLength(f.values.length) / 5
      const d =
        edition === 'published'
          ? new ContextOse(min, max, rest)
          : new ContextOse(min, max, rest, 0.75, 7, 15, 3, true, 65536)
      const byTime = new Map<string, string>()
      f.values.forEach((v, i) => byTime.set(f.timestampText[i].slice(5, 16), py(d.update(v))))
      const times = f.timestampText.map((t) => t.slice(5, 16))
      let checked = 0
      for (const run of runs.split(' | ')) {
        const [day, time, score, count] = run.split(' ')
        const n = count ? Number(count.slice(1)) : 1
        const start = times.indexOf(`${day} ${time}`)
        assert.ok(start >= 0, `${file}: no row at ${day} ${time}`)
        for (let k = 0; k < n; k++) {
          assert.equal(byTime.get(times[start + k]), score, `${file} (${edition}) at ${times[start + k]}`)
          checked++
        }
      }
      assert.ok(checked > 30)
    }
  })
})
