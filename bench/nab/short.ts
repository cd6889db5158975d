/**
 * Development helper: the detector on short series cut from the local NAB data, for how fast it
 * becomes useful. NAB scores everything after the first 15 % of a file, so in a short file the
 * scored part starts after a few hundred points, while the local files give ~600 points of free
 * learning. Each labelled window becomes one file: from `--before` rows ahead of the window (default
 * 300) to 300 rows after it, keeping the original rows, timestamps and every window that lies wholly
 * inside; cuts whose window would fall into their own probation are skipped. The files without
 * windows are cut to their first 1 500 rows. The reference detectors run through the same cuts.
 *
 *   tsx bench/nab/short.ts [--data DIR] [--before N] '{}' '{"restPoints":70}' knnCad ...
 */
import { type DataFile, loadCorpus } from './corpus'
import { probationaryLength } from './scorer'
import { parseVariantArgs, scoreVariants } from './variants'

const { data, value: before, variants } = parseVariantArgs(process.argv.slice(2), 'before', 300)

function cut(f: DataFile, lo: number, hi: number, name: string): DataFile {
  const windows = f.windows.filter(([a, b]) => a >= f.timestamps[lo] && b <= f.timestamps[hi - 1])
  return {
    ...f,
    name,
    file: name,
    windows,
    values: f.values.slice(lo, hi),
    timestamps: f.timestamps.slice(lo, hi),
    timestampText: f.timestampText.slice(lo, hi),
    valueText: f.valueText.slice(lo, hi),
  }
}

const cuts: DataFile[] = []
for (const f of loadCorpus(data)) {
  if (f.windows.length === 0) {
    cuts.push(cut(f, 0, Math.min(1500, f.values.length), `${f.name}#head`))
    continue
  }
  f.windows.forEach(([a, b], k) => {
    const start = f.timestamps.findIndex((t) => t >= a)
    const end = f.timestamps.findIndex((t) => t >= b)
    const lo = Math.max(0, start - before)
    const hi = Math.min(f.values.length, end + 300)
    if (probationaryLength(hi - lo) > start - lo) return
    cuts.push(cut(f, lo, hi, `${f.name}#${k}`))
  })
}
const points = cuts.reduce((n, f) => n + f.values.length, 0)
console.log(`${cuts.length} cuts (${before} rows before each window), ${points} points`)

scoreVariants(cuts, variants)
