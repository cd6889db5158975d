/**
 * Loading a NAB-layout corpus (DIR/data/<category>/*.csv and
 * DIR/labels/combined_windows.json) and running a detector over it.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { parseNabTimestamp, type ScoredFile, type WindowLimits } from './scorer'

export interface DataFile {
  /** "category/file.csv" */
  name: string
  category: string
  file: string
  /** raw timestamp strings as in the file */
  timestampText: string[]
  /** raw value strings as in the file */
  valueText: string[]
  timestamps: number[]
  values: number[]
  windows: WindowLimits[]
}

/** Parse a NAB data CSV (header "timestamp,value"; LF or CRLF line ends). */
export function parseCsv(text: string, name = 'csv'): { timestampText: string[]; valueText: string[] } {
  const lines = text.split(/\r?\n|\r/)
  const header = (lines[0] ?? '').split(',').map((h) => h.trim().replace(/^\uFEFF/, ''))
  const ti = header.indexOf('timestamp')
  const vi = header.indexOf('value')
  if (ti < 0 || vi < 0) throw new Error(`${name}: header must contain timestamp and value (got ${lines[0]})`)
  const timestampText: string[] = []
  const valueText: string[] = []
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]
    if (line.trim() === '') continue
    const cols = line.split(',')
    timestampText.push(cols[ti].trim())
    valueText.push(cols[vi].trim())
  }
  return { timestampText, valueText }
}

export function loadCorpus(dataDir: string): DataFile[] {
  const labelsPath = join(dataDir, 'labels', 'combined_windows.json')
  const labels = JSON.parse(readFileSync(labelsPath, 'utf8')) as Record<string, [string, string][]>
  const root = join(dataDir, 'data')
  const out: DataFile[] = []
  const categories = readdirSync(root)
    .filter((c) => statSync(join(root, c)).isDirectory())
    .sort()
  for (const category of categories) {
    const files = readdirSync(join(root, category))
      .filter((f) => f.endsWith('.csv'))
      .sort()
    for (const file of files) {
      const name = `${category}/${file}`
      const limits = labels[name]
      if (limits === undefined) {
        console.warn(`warning: ${name} has no entry in combined_windows.json; skipped`)
        continue
      }
      const { timestampText, valueText } = parseCsv(readFileSync(join(root, category, file), 'utf8'), name)
      const timestamps = timestampText.map(parseNabTimestamp)
      const values = valueText.map(Number)
      timestamps.forEach((t, i) => {
        if (!Number.isFinite(t)) throw new Error(`${name}: bad timestamp on row ${i + 1}: ${timestampText[i]}`)
      })
      const windows: WindowLimits[] = limits.map(([a, b]) => [parseNabTimestamp(a), parseNabTimestamp(b)])
      out.push({ name, category, file, timestampText, valueText, timestamps, values, windows })
    }
  }
  return out
}

export interface Detector {
  update(value: number, timestampMs: number): number
}

/** Run one fresh detector per file (`make` may look at the file, as NAB's references do); returns scores per file and the time spent in update(). */
export function runDetector(
  corpus: readonly DataFile[],
  make: (file: DataFile) => Detector,
): { files: ScoredFile[]; seconds: number; points: number } {
  const files: ScoredFile[] = []
  let ns = 0n
  let points = 0
  for (const f of corpus) {
    const det = make(f)
    const scores = new Array<number>(f.values.length)
    const t0 = process.hrtime.bigint()
    for (let i = 0; i < f.values.length; i++) scores[i] = det.update(f.values[i], f.timestamps[i])
    ns += process.hrtime.bigint() - t0
    points += f.values.length
    files.push({ name: f.name, timestamps: f.timestamps, scores, windows: f.windows })
  }
  return { files, seconds: Number(ns) / 1e9, points }
}

const CHAIN_STEP_MS = 300_000
const CHAIN_T0 = Date.UTC(2020, 0, 1)

/**
 * Long series made from the local files: the files of each category chained `per` at a time, values
 * in order, timestamps re-laid 5 minutes apart, windows moved with their rows. The local files are
 * all about 4 000 points long, so what a detector does as a series ages (4 000 to 17 000 points)
 * shows only here. The seams are level shifts no label marks: compare detectors with each other on
 * chains, never with NAB scores.
 */
export function chainCorpus(corpus: readonly DataFile[], per: number): DataFile[] {
  const chains: DataFile[] = []
  for (const category of [...new Set(corpus.map((f) => f.category))]) {
    const files = corpus.filter((f) => f.category === category)
    for (let c = 0; c * per < files.length; c++) {
      const parts = files.slice(c * per, (c + 1) * per)
      const name = `${category}/chain-${c}.csv`
      const values: number[] = []
      const timestamps: number[] = []
      const windows: WindowLimits[] = []
      for (const p of parts) {
        const base = values.length
        const row = new Map(p.timestamps.map((t, i) => [t, i]))
        for (let i = 0; i < p.values.length; i++) {
          values.push(p.values[i])
          timestamps.push(CHAIN_T0 + (base + i) * CHAIN_STEP_MS)
        }
        for (const [a, b] of p.windows)
          windows.push([
            CHAIN_T0 + (base + row.get(a)!) * CHAIN_STEP_MS,
            CHAIN_T0 + (base + row.get(b)!) * CHAIN_STEP_MS,
          ])
      }
      chains.push({
        name,
        category,
        file: `chain-${c}.csv`,
        values,
        timestamps,
        windows,
        timestampText: [],
        valueText: [],
      })
    }
  }
  return chains
}
