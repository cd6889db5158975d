/**
 * Checks of the comparison with NAB's published contextOSE results (published.ts): Python 2's
 * float printing, and the comparison of one small local file (a few seconds), whose counts must
 * add up and whose published per-file scores must be read and reproduced by our scorer from the
 * published rows. Skipped when the local NAB copy is absent.
 */
import assert from 'node:assert/strict'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, it } from 'node:test'
import { loadCorpus } from './corpus'
import { EDITIONS, comparePublished, formatComparison, py2Str, readPublishedRows } from './published'
import { PROFILES } from './scorer'

const here = dirname(fileURLToPath(import.meta.url))
const data = resolve(here, '..', '..', '..', 'shared', 'nab')
const results = join(here, 'results', 'contextOSE')
const FILE = 'realAWSCloudwatch/iio_us-east-1_i-a2eb1cd9_NetworkIn.csv'

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
    const c = comparePublished([file], results)
    assert.ok((EDITIONS as readonly string[]).includes(c.edition))
    assert.equal(c.files.length, 1)
    const f = c.files[0]
    assert.equal(f.name, FILE)
    assert.equal(f.rows, file.values.length)
    assert.ok(f.equalPrinted >= 0 && f.equalPrinted <= f.withinTolerance && f.withinTolerance <= f.rows)
    assert.equal(f.firstDiff === null, f.equalPrinted === f.rows)
    if (f.firstDiff) assert.equal(f.firstDiff.timestamp, file.timestampText[f.firstDiff.row])
    assert.equal(f.maxAbsDiff === 0, f.withinTolerance === f.rows && f.firstDiff === null)

    for (const profile of Object.keys(PROFILES)) {
      const line = readFileSync(join(results, `contextOSE_${profile}_scores.csv`), 'utf8')
        .split('\n')
        .find((l) => l.split(',')[2] === FILE)
      assert.ok(line, `${profile}: ${FILE} in the scores file`)
      const p = f.profiles[profile]
      assert.equal(p.published, Number(line.split(',')[4]), `${profile}: published score read`)
      assert.equal(p.threshold, Number(line.split(',')[3]), `${profile}: published threshold read`)
      // our scorer on NAB's own rows must give NAB's own per-file score
      assert.ok(Math.abs(p.publishedRows - p.published) < 1e-9, `${profile}: ${p.publishedRows} vs ${p.published}`)
      if (f.firstDiff === null) assert.ok(Math.abs(p.ours - p.published) < 1e-9, `${profile}: identical rows`)
    }
    const report = formatComparison(c).join('\n')
    assert.ok(report.includes(FILE) && report.includes('files identical on every row'))
  })

  it('refuses published rows that do not line up with the data file', { skip: !existsSync(data) }, () => {
    const file = loadCorpus(data).find((f) => f.name === FILE)
    assert.ok(file, FILE)
    const dir = mkdtempSync(join(tmpdir(), 'nab-published-'))
    try {
      mkdirSync(join(dir, file.category))
      const lines = readFileSync(join(results, file.category, `contextOSE_${file.file}`), 'utf8').split('\n')
      lines.splice(5, 1) // one row missing: every later timestamp is off by one
      writeFileSync(join(dir, file.category, `contextOSE_${file.file}`), lines.join('\n'))
      assert.throws(() => readPublishedRows(dir, file), /row 5 is .*the data file has/)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
