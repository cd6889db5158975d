/**
 * Development helper: score detector option variants on the local NAB data.
 *
 *   tsx bench/nab/tune.ts [--data DIR] [--detail] '{"contextOrder":5}' '{"contextWeight":0}' ...
 *
 * Prints the three normalised NAB scores per variant; with --detail, per
 * window the best detection and per file the false positives at the
 * standard-profile threshold. These are local totals, for looking into a
 * variant: whether it is adopted is decided by cross-validation,
 * `npm run bench:nab -- --cv --detectors sentinel --detectors '{"restPoints":70}'`.
 */
import { resolve, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { AnomalyDetector, type DetectorOptions } from '../../src/observe/anomaly-detector/index'
import { loadCorpus, runDetector } from './corpus'
import { PROFILES, scoreProfile, sweepFile } from './scorer'

const here = dirname(fileURLToPath(import.meta.url))
let data = resolve(here, '..', '..', '..', 'shared', 'nab')
let detail = false
const variants: Partial<DetectorOptions>[] = []
const argv = process.argv.slice(2)
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === '--data') data = resolve(argv[++i])
  else if (argv[i] === '--detail') detail = true
  else variants.push(JSON.parse(argv[i]) as Partial<DetectorOptions>)
}
if (variants.length === 0) variants.push({})

const corpus = loadCorpus(data)
for (const v of variants) {
  const run = runDetector(corpus, () => new AnomalyDetector(v))
  const res = Object.keys(PROFILES).map((p) => scoreProfile(run.files, p))
  console.log(
    `${JSON.stringify(v)}  std ${res[0].normalizedScore.toFixed(2)}  lowFP ${res[1].normalizedScore.toFixed(2)}  lowFN ${res[2].normalizedScore.toFixed(2)}  thr ${res[0].threshold.toFixed(4)}  ${Math.round(run.points / run.seconds)} pts/s`,
  )
  if (detail) {
    const thr = res[0].threshold
    for (const f of run.files) {
      const pts = sweepFile(f.timestamps, f.scores, f.windows, f.name, PROFILES.standard)
      const wins = new Map<string, { best: number; first: number; maxScore: number }>()
      let fpCost = 0
      let fps = 0
      for (const p of pts) {
        if (p.window === null && p.score >= thr) {
          fpCost += p.sweepScore
          fps++
        }
        if (p.window !== null && p.window !== '\u0000probationary') {
          const w = wins.get(p.window) ?? { best: -1, first: -1, maxScore: 0 }
          if (p.score >= thr && w.first < 0) {
            w.first = p.index
            w.best = p.sweepScore
          }
          w.maxScore = Math.max(w.maxScore, p.score)
          wins.set(p.window, w)
        }
      }
      const ws = [...wins.values()]
        .map((w) => (w.first >= 0 ? `TP ${w.best.toFixed(2)}` : `FN(max ${w.maxScore.toFixed(2)})`))
        .join(' ')
      console.log(`  ${f.name.padEnd(60)} FP ${String(fps).padStart(3)} cost ${fpCost.toFixed(2).padStart(6)}  ${ws}`)
    }
  }
}
