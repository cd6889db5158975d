/**
 * Row-by-row and file-by-file comparison of our contextOSE reproduction (cad-ose.ts) with NAB's
 * published contextOSE results.
 *
 * Why: a whole-corpus score that comes out close proves little (errors cancel, and the threshold
 * hides most rows), so a reproduction is checked against what NAB actually published, row by row
 * and file by file, for the local categories only: the per-row results
 * bench/nab/results/contextOSE/<category>/contextOSE_<file>.csv and the per-file scores
 * contextOSE_<profile>_scores.csv of the files under the local NAB copy (../shared/nab). No other
 * NAB category is read or needed.
 *
 * Per file it reports: rows, rows whose score prints as the published one does under Python 2's
 * str(float) (12 significant digits, how NAB's detectors' scores were first printed), rows within
 * 1e-6, the largest absolute difference, the first differing row, and each profile's per-file NAB
 * score computed by our scorer from our scores at the published threshold, beside the published
 * per-file score (and, as a check of the scorer alone, our scorer applied to the published rows).
 *
 * NAB's repository holds two editions of contextOSE (see cad-ose.ts); `--edition` picks which one
 * is run. The default is the later one because that is the edition the per-row files in
 * bench/nab/results/contextOSE hold (it reproduces them exactly; the first edition, whose rows
 * cad-ose.test.ts checks against NAB's earlier results, differs from them from the end of the
 * probation on, while giving nearly the same per-file scores).
 *
 *   npx tsx bench/nab/published.ts [--data DIR] [--results DIR] [--edition later|published]
 */
import { readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ContextOse } from './cad-ose'
import { type DataFile, loadCorpus } from './corpus'
import { PROFILES, probationaryLength, scoreAtThreshold, type ThresholdScore } from './scorer'

const here = dirname(fileURLToPath(import.meta.url))

/** The editions of contextOSE found in NAB's repository (cad-ose.ts explains the difference). */
export const EDITIONS = ['published', 'later'] as const
export type Edition = (typeof EDITIONS)[number]

/** Rows closer than this count as equal in the "within" column. */
export const TOLERANCE = 1e-6

/**
 * Python 2's str(float): '%.12g', with '.0' added when the result looks like an integer. Scores
 * compared this way are equal when NAB's Python 2 run would have printed the same text.
 */
export function py2Str(x: number): string {
  if (Number.isNaN(x)) return 'nan'
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf'
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0'
  const [mantissa, e] = x.toExponential(11).split('e')
  const exp = Number(e)
  if (exp < -4 || exp >= 12) {
    const m = mantissa.includes('.') ? mantissa.replace(/0+$/, '').replace(/\.$/, '') : mantissa
    return `${m}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`
  }
  const s = x.toFixed(11 - exp)
  return s.includes('.') ? s.replace(/0+$/, '').replace(/\.$/, '.0') : `${s}.0`
}

/** The detector as NAB ran it on one file: the file's value range, a rest of a fifth of the probation. */
export function makeContextOse(file: DataFile, edition: Edition): ContextOse {
  let min = Number.POSITIVE_INFINITY
  let max = Number.NEGATIVE_INFINITY
  for (const v of file.values) {
    if (v < min) min = v
    if (v > max) max = v
  }
  const rest = probationaryLength(file.values.length) / 5
  return edition === 'published'
    ? new ContextOse(min, max, rest)
    : new ContextOse(min, max, rest, 0.75, 7, 15, 3, true, 65536)
}

/** NAB's published per-row results of one file (the anomaly_score column), checked against the data file. */
export function readPublishedRows(resultsDir: string, file: DataFile): number[] {
  const path = join(resultsDir, file.category, `contextOSE_${file.file}`)
  const lines = readFileSync(path, 'utf8').split(/\r?\n/)
  const header = lines[0].split(',')
  const ti = header.indexOf('timestamp')
  const si = header.indexOf('anomaly_score')
  if (ti < 0 || si < 0) throw new Error(`${path}: header must contain timestamp and anomaly_score (got ${lines[0]})`)
  const scores: number[] = []
  for (let i = 1; i < lines.length; i++) {
    if (lines[i].trim() === '') continue
    const cols = lines[i].split(',')
    const row = scores.length
    if (cols[ti] !== file.timestampText[row]) {
      throw new Error(`${path}: row ${row + 1} is ${cols[ti]}, the data file has ${file.timestampText[row]}`)
    }
    const score = Number(cols[si])
    if (cols[si].trim() === '' || !Number.isFinite(score)) throw new Error(`${path}: bad score on row ${row + 1}`)
    scores.push(score)
  }
  if (scores.length !== file.values.length) {
    throw new Error(`${path}: ${scores.length} rows, the data file has ${file.values.length}`)
  }
  return scores
}

/** One row of a published contextOSE_<profile>_scores.csv: the fields our scorer gives per file. */
export type PublishedFileScore = ThresholdScore

/** A published contextOSE_<profile>_scores.csv, by file name ("category/file.csv", or "Totals"). */
export function readPublishedScores(resultsDir: string, profile: string): Map<string, PublishedFileScore> {
  const path = join(resultsDir, `contextOSE_${profile}_scores.csv`)
  const lines = readFileSync(path, 'utf8').split(/\r?\n/)
  const header = lines[0].split(',')
  const col = (name: string): number => {
    const i = header.indexOf(name)
    if (i < 0) throw new Error(`${path}: no ${name} column (header ${lines[0]})`)
    return i
  }
  const [fi, th, sc, tp, tn, fp, fn, tc] = ['File', 'Threshold', 'Score', 'TP', 'TN', 'FP', 'FN', 'Total_Count'].map(
    col,
  )
  const out = new Map<string, PublishedFileScore>()
  for (const line of lines.slice(1)) {
    if (line.trim() === '') continue
    const c = line.split(',')
    out.set(c[fi], {
      threshold: Number(c[th]),
      score: Number(c[sc]),
      tp: Number(c[tp]),
      tn: Number(c[tn]),
      fp: Number(c[fp]),
      fn: Number(c[fn]),
      total: Number(c[tc]),
    })
  }
  return out
}

/** One profile's per-file score: ours, the published one, and our scorer on the published rows. */
export interface ProfileComparison {
  /** the published threshold the two score sets are scored at */
  threshold: number
  /** our scorer, our rows */
  ours: number
  /** the published per-file Score */
  published: number
  /** our scorer, the published rows (a check of the scorer alone) */
  publishedRows: number
  /** detections (TP + FP) with our rows and in the published scores file */
  oursDetections: number
  publishedDetections: number
}

export interface FileComparison {
  name: string
  rows: number
  /** rows printing the same under Python 2's str(float) */
  equalPrinted: number
  /** rows within TOLERANCE */
  withinTolerance: number
  maxAbsDiff: number
  /** the first row that does not print the same, or null when none */
  firstDiff: { row: number; timestamp: string; ours: number; published: number } | null
  profiles: Record<string, ProfileComparison>
}

export interface PublishedComparison {
  edition: Edition
  files: FileComparison[]
  /** the published Totals row of each profile's scores file, when present */
  publishedTotals: Record<string, number | null>
}

/**
 * Run the reproduction over each file and compare it with the published results in `resultsDir`
 * (bench/nab/results/contextOSE layout).
 */
export function comparePublished(
  corpus: readonly DataFile[],
  resultsDir: string,
  edition: Edition = 'later',
): PublishedComparison {
  const profileNames = Object.keys(PROFILES)
  const published = new Map(profileNames.map((p) => [p, readPublishedScores(resultsDir, p)]))
  const files: FileComparison[] = []
  for (const file of corpus) {
    const pubRows = readPublishedRows(resultsDir, file)
    const detector = makeContextOse(file, edition)
    const ours = file.values.map((v) => detector.update(v))
    let equalPrinted = 0
    let withinTolerance = 0
    let maxAbsDiff = 0
    let firstDiff: FileComparison['firstDiff'] = null
    for (let i = 0; i < ours.length; i++) {
      const diff = Math.abs(ours[i] - pubRows[i])
      if (diff > maxAbsDiff) maxAbsDiff = diff
      if (diff <= TOLERANCE) withinTolerance++
      if (py2Str(ours[i]) === py2Str(pubRows[i])) equalPrinted++
      else if (firstDiff === null) {
        firstDiff = { row: i, timestamp: file.timestampText[i], ours: ours[i], published: pubRows[i] }
      }
    }
    const profiles: Record<string, ProfileComparison> = {}
    for (const profile of profileNames) {
      const pub = published.get(profile)!.get(file.name)
      if (pub === undefined) throw new Error(`contextOSE_${profile}_scores.csv has no row for ${file.name}`)
      const score = (scores: number[]): { score: number; detections: number } => {
        const scored = { name: file.name, timestamps: file.timestamps, scores, windows: file.windows }
        const r = scoreAtThreshold([scored], PROFILES[profile], pub.threshold).perFile[0]
        return { score: r.score, detections: r.tp + r.fp }
      }
      const o = score(ours)
      profiles[profile] = {
        threshold: pub.threshold,
        ours: o.score,
        published: pub.score,
        publishedRows: score(pubRows).score,
        oursDetections: o.detections,
        publishedDetections: pub.tp + pub.fp,
      }
    }
    files.push({ name: file.name, rows: ours.length, equalPrinted, withinTolerance, maxAbsDiff, firstDiff, profiles })
  }
  const publishedTotals: Record<string, number | null> = {}
  for (const p of profileNames) publishedTotals[p] = published.get(p)!.get('Totals')?.score ?? null
  return { edition, files, publishedTotals }
}

const SHORT: Record<string, string> = {
  standard: 'standard',
  reward_low_FP_rate: 'low FP',
  reward_low_FN_rate: 'low FN',
}

/** The report as lines of text (machine-independent: no timings, no host facts). */
export function formatComparison(c: PublishedComparison): string[] {
  const profiles = Object.keys(PROFILES)
  const nameWidth = Math.max(4, ...c.files.map((f) => f.name.length))
  const num = (x: number): string => x.toFixed(4).padStart(8)
  const out: string[] = []
  out.push(`contextOSE reproduction (${c.edition} edition) vs NAB's published results, ${c.files.length} local files`)
  out.push('')
  out.push('rows: "=py" prints the same under Python 2 str(float) (12 significant digits), "1e-6" within 1e-6')
  out.push(
    `${'file'.padEnd(nameWidth)}  ${'rows'.padStart(5)}  ${'=py'.padStart(5)}  ${'1e-6'.padStart(5)}  ${'max|diff|'.padStart(9)}  first differing row (ours / published)`,
  )
  for (const f of c.files) {
    const first = f.firstDiff
      ? `${f.firstDiff.timestamp} (row ${f.firstDiff.row + 1}): ${py2Str(f.firstDiff.ours)} / ${py2Str(f.firstDiff.published)}`
      : '-'
    out.push(
      `${f.name.padEnd(nameWidth)}  ${String(f.rows).padStart(5)}  ${String(f.equalPrinted).padStart(5)}  ${String(f.withinTolerance).padStart(5)}  ${f.maxAbsDiff.toExponential(2).padStart(9)}  ${first}`,
    )
  }
  out.push('')
  out.push(
    'per-file NAB scores at the published threshold: ours (our rows) / published (scores file) / check (our scorer on the published rows); det = detections, ours/published',
  )
  out.push(
    `${'file'.padEnd(nameWidth)}  ${profiles.map((p) => `${SHORT[p].padStart(8)} ours      pub    check`).join('   ')}  det`,
  )
  for (const f of c.files) {
    const cells = profiles.map((p) => {
      const s = f.profiles[p]
      return `${num(s.ours)} ${num(s.published)} ${num(s.publishedRows)}`
    })
    const det = f.profiles.standard
    out.push(`${f.name.padEnd(nameWidth)}  ${cells.join('   ')}  ${det.oursDetections}/${det.publishedDetections}`)
  }
  out.push('')
  const identical = c.files.filter((f) => f.firstDiff === null).length
  const rows = c.files.reduce((n, f) => n + f.rows, 0)
  const equal = c.files.reduce((n, f) => n + f.equalPrinted, 0)
  const within = c.files.reduce((n, f) => n + f.withinTolerance, 0)
  const maxDiff = c.files.reduce((m, f) => Math.max(m, f.maxAbsDiff), 0)
  out.push(`files identical on every row (=py): ${identical} of ${c.files.length}`)
  out.push(
    `rows: ${equal} of ${rows} print the same (${((100 * equal) / rows).toFixed(2)}%), ${within} within 1e-6, max |diff| ${maxDiff.toExponential(2)}`,
  )
  for (const p of profiles) {
    const sum = (k: 'ours' | 'published' | 'publishedRows'): number => c.files.reduce((s, f) => s + f.profiles[p][k], 0)
    const threshold = c.files[0]?.profiles[p].threshold
    const total = c.publishedTotals[p]
    out.push(
      `${p.padEnd(18)} threshold ${threshold}: sum of per-file scores ours ${sum('ours').toFixed(4)}, published ${sum('published').toFixed(4)}` +
        `${total === null ? '' : ` (published Totals row ${total.toFixed(4)})`}, our scorer on the published rows ${sum('publishedRows').toFixed(4)}`,
    )
  }
  return out
}

function parseArgs(argv: string[]): { data: string; results: string; edition: Edition } {
  const args = {
    data: resolve(here, '..', '..', '..', 'shared', 'nab'),
    results: join(here, 'results', 'contextOSE'),
    edition: 'later' as Edition,
  }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    const next = (): string => {
      const v = argv[++i]
      if (v === undefined) throw new Error(`missing value for ${a}`)
      return v
    }
    if (a === '--data') args.data = resolve(next())
    else if (a === '--results') args.results = resolve(next())
    else if (a === '--edition') {
      const e = next()
      if (!(EDITIONS as readonly string[]).includes(e))
        throw new Error(`--edition must be one of ${EDITIONS.join(', ')}`)
      args.edition = e as Edition
    } else if (a === '--published') {
      // accepted so run.ts can forward its own flag unchanged
    } else throw new Error(`unknown argument ${a} (usage: [--data DIR] [--results DIR] [--edition published|later])`)
  }
  return args
}

/** CLI: compare every local file and print the report. */
export function main(argv: string[] = process.argv.slice(2)): void {
  const args = parseArgs(argv)
  const corpus = loadCorpus(args.data)
  if (corpus.length === 0) throw new Error(`no data files found under ${args.data}/data`)
  for (const line of formatComparison(comparePublished(corpus, args.results, args.edition))) console.log(line)
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main()
