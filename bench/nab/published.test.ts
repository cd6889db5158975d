/**
 * Checks of the comparison with NAB's published contextOSE results (published.ts): Python 2's
 * float printing, and the comparison of one small local file (under a second) with its published
 * rows and per-file scores, which the test carries because the results folder is a local download.
 * The counts must add up, the published per-file scores must be read and reproduced by our scorer
 * from the published rows, and misaligned rows refused. Skipped when the local NAB copy is absent.
 */
import assert from 'node:assert/strict'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, it } from 'node:test'
import { type DataFile, loadCorpus } from './corpus'
import { comparePublished, formatComparison, py2Str, readPublishedRows } from './published'

const data = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'shared', 'nab')
const FILE = 'realAWSCloudwatch/iio_us-east-1_i-a2eb1cd9_NetworkIn.csv'

/**
 * NAB's published contextOSE rows for FILE (results/contextOSE/realAWSCloudwatch/
 * contextOSE_iio_us-east-1_i-a2eb1cd9_NetworkIn.csv in numenta/NAB, the later edition), as runs of
 * [row count, anomaly_score]. The results folder itself is a local download (bench/nab/results,
 * not committed), so the test carries the one file it needs.
 */
const PUBLISHED_RUNS: [number, string][] = [
  [202, '0'],
  [1, '0.9444444444444444'],
  [136, '0'],
  [1, '0.2667810831426392'],
  [1, '0.4011494252873563'],
  [1, '0.2713744588744589'],
  [1, '0.18333333333333335'],
  [284, '0'],
  [1, '0.175'],
  [2, '0'],
  [613, '0.18333333333333335'],
]

/** FILE's rows of NAB's published contextOSE_<profile>_scores.csv (threshold, score and counts). */
const PUBLISHED_SCORES: Record<string, string> = {
  standard: '0.7685714285714285,-2.1100000000000003,0,930,1,126,1057',
  reward_low_FP_rate: '0.7685714285714285,-2.2199999999999998,0,930,1,126,1057',
  reward_low_FN_rate: '0.7685714285714285,-4.109999999999999,0,930,1,126,1057',
}

/** Writes FILE's published results in NAB's results layout under a fresh directory. */
function writePublished(file: DataFile): string {
  const dir = mkdtempSync(join(tmpdir(), 'nab-published-'))
  mkdirSync(join(dir, file.category))
  const scores = PUBLISHED_RUNS.flatMap(([n, s]) => Array<string>(n).fill(s))
  assert.equal(scores.length, file.values.length, 'the published runs cover every row of the data file')
  const rows = scores.map((s, i) => `${file.timestampText[i]},${file.values[i]},${s}`)
  writeFileSync(
    join(dir, file.category, `contextOSE_${file.file}`),
    ['timestamp,value,anomaly_score', ...rows, ''].join('\n'),
  )
  for (const [profile, line] of Object.entries(PUBLISHED_SCORES)) {
    const header = 'Detector,Profile,File,Threshold,Score,TP,TN,FP,FN,Total_Count'
    writeFileSync(join(dir, `contextOSE_${profile}_scores.csv`), `${header}\ncontextOSE,${profile},${FILE},${line}\n`)
  }
  return dir
}

describe('comparison with the published contextOSE results', () => {
  it("prints floats as Python 2's str() does", () => {
    assert.equal(py2Str(2 / 3), '0.666666666667')
    assert.equal(py2Str(1), '1.0')
    assert.equal(py2Str(0), '0.0')
    assert.equal(py2Str(0.1), '0.1')
    assert.equal(py2Str(0.0001), '0.0001')
    assert.equal(py2Str(0.00001), '1e-05')
    assert.equal(py2Str(123456789012345), '1.23456789012e+14')
    assert.equal(py2Str(100000000000), '100000000000.0')
  })

  it('compares one local file row by row and scores it per profile', { skip: !existsSync(data) }, () => {
    const file = loadCorpus(data).find((f) => f.name === FILE)
    assert.ok(file, FILE)
    const results = writePublished(file)
    try {
      const c = comparePublished([file], results)
      assert.equal(c.edition, 'later')
      assert.equal(c.files.length, 1)
      const f = c.files[0]
      assert.equal(f.name, FILE)
      assert.equal(f.rows, file.values.length)
      // the later edition reproduces NAB's rows of this file exactly
      assert.equal(f.firstDiff, null)
      assert.equal(f.equalPrinted, f.rows)
      assert.equal(f.withinTolerance, f.rows)
      assert.equal(f.maxAbsDiff, 0)
      for (const [profile, line] of Object.entries(PUBLISHED_SCORES)) {
        const [threshold, score, tp, , fp] = line.split(',').map(Number)
        const p = f.profiles[profile]
        assert.equal(p.published, score, `${profile}: published score read`)
        assert.equal(p.threshold, threshold, `${profile}: published threshold read`)
        assert.equal(p.publishedDetections, tp + fp, `${profile}: published detections read`)
        // our scorer on NAB's own rows gives NAB's own per-file score, and ours are the same rows
        assert.ok(Math.abs(p.publishedRows - p.published) < 1e-9, `${profile}: ${p.publishedRows} vs ${p.published}`)
        assert.ok(Math.abs(p.ours - p.published) < 1e-9, `${profile}: ${p.ours} vs ${p.published}`)
        assert.equal(p.oursDetections, p.publishedDetections, `${profile}: detections`)
      }
      assert.equal(c.publishedTotals.standard, null, 'no Totals row in a one-file folder')
      const report = formatComparison(c).join('\n')
      assert.ok(report.includes(FILE) && report.includes('files identical on every row'), report)
    } finally {
      rmSync(results, { recursive: true, force: true })
    }
  })

  it(
    'reports the first row where the first edition departs from the published rows',
    { skip: !existsSync(data) },
    () => {
      const file = loadCorpus(data).find((f) => f.name === FILE)
      assert.ok(file, FILE)
      const results = writePublished(file)
      try {
        const f = comparePublished([file], results, 'published').files[0]
        assert.ok(f.equalPrinted <= f.withinTolerance && f.withinTolerance <= f.rows)
        assert.equal(f.firstDiff === null, f.equalPrinted === f.rows)
        if (f.firstDiff) {
          assert.equal(f.firstDiff.timestamp, file.timestampText[f.firstDiff.row])
          assert.ok(f.maxAbsDiff > 0)
        }
      } finally {
        rmSync(results, { recursive: true, force: true })
      }
    },
  )

  it('refuses published rows that do not line up with the data file', { skip: !existsSync(data) }, () => {
    const file = loadCorpus(data).find((f) => f.name === FILE)
    assert.ok(file, FILE)
    const dir = writePublished(file)
    try {
      const path = join(dir, file.category, `contextOSE_${file.file}`)
      const lines = readFileSync(path, 'utf8').split('\n')
      lines.splice(5, 1) // one row missing: every later timestamp is off by one
      writeFileSync(path, lines.join('\n'))
      assert.throws(() => readPublishedRows(dir, file), /row 5 is .*the data file has/)
      rmSync(path)
      assert.throws(() => comparePublished([file], dir), /ENOENT/)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
