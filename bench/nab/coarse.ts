/**
 * Development helper: the detector on the local NAB files averaged over N rows (`--every`, default
 * 6), for series sampled coarsely: a 5-minute file becomes a 30-minute one, N times shorter, so
 * the scored part starts after fewer points and a daily cycle spans fewer of them. Windows keep
 * their times, moved to the nearest remaining row. The reference detectors run on the same data.
 *
 *   tsx bench/nab/coarse.ts [--data DIR] [--every N] '{}' '{"valueMinBeta":0.01}' knnCad ...
 */
import { type DataFile, loadCorpus } from './corpus'
import { parseVariantArgs, scoreVariants } from './variants'

const { data, value: every, variants } = parseVariantArgs(process.argv.slice(2), 'every', 6)

function averaged(f: DataFile, k: number): DataFile {
  const values: number[] = []
  const timestamps: number[] = []
  for (let i = 0; i + k <= f.values.length; i += k) {
    let sum = 0
    for (let j = 0; j < k; j++) sum += f.values[i + j]
    values.push(sum / k)
    timestamps.push(f.timestamps[i])
  }
  const nearest = (t: number): number =>
    timestamps.reduce((best, x) => (Math.abs(x - t) < Math.abs(best - t) ? x : best), timestamps[0])
  const windows = f.windows.map(([a, b]) => [nearest(a), nearest(b)] as [number, number])
  return { ...f, name: `${f.name}@${k}`, values, timestamps, windows, timestampText: [], valueText: [] }
}

const corpus = loadCorpus(data).map((f) => averaged(f, every))
const points = corpus.reduce((n, f) => n + f.values.length, 0)
console.log(`${corpus.length} files averaged over ${every} rows, ${points} points`)
scoreVariants(corpus, variants)
