/**
 * NAB benchmark for Sentinel's streaming anomaly detector.
 *
 *   tsx bench/nab/run.ts [--data DIR] [--out DIR] [--detector NAME] [--baseline windowedGaussian|relativeEntropy|knnCad]
 *
 * DIR (default ../shared/nab relative to the project root) must have NAB's
 * layout: DIR/data/<category>/*.csv and DIR/labels/combined_windows.json.
 * Results are written in NAB's results format:
 *   OUT/<detector>/<category>/<detector>_<file>.csv  (timestamp,value,anomaly_score)
 * plus OUT/<detector>/<detector>_<profile>_scores.csv and OUT/final_results.json.
 * --baseline runs a reference detector with a published score instead (see baselines.ts).
 */
import { cpus } from 'node:os'
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { AnomalyDetector } from '../../src/observe/anomaly-detector/index'
import { BASELINES } from './baselines'
import { type DataFile, type Detector, loadCorpus, runDetector } from './corpus'
import { scoreAllProfiles } from './scorer'

const here = dirname(fileURLToPath(import.meta.url))
const projectRoot = resolve(here, '..', '..')

function parseArgs(argv: string[]): { data: string; out: string; detector: string; baseline: string | null } {
  const args = {
    data: resolve(projectRoot, '..', 'shared', 'nab'),
    out: join(here, 'results'),
    detector: 'sentinel',
    baseline: null as string | null,
  }
  let named = false
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    const next = (): string => {
      const v = argv[++i]
      if (v === undefined) throw new Error(`missing value for ${a}`)
      return v
    }
    if (a === '--data') args.data = resolve(next())
    else if (a === '--out') args.out = resolve(next())
    else if (a === '--detector') {
      args.detector = next()
      named = true
    } else if (a === '--baseline') {
      args.baseline = next()
      if (!BASELINES[args.baseline])
        throw new Error(`unknown baseline ${args.baseline}: one of ${Object.keys(BASELINES).join(', ')}`)
      if (!named) args.detector = args.baseline
    } else if (a === '--help' || a === '-h') {
      console.log(
        `usage: tsx bench/nab/run.ts [--data DIR] [--out DIR] [--detector NAME] [--baseline ${Object.keys(BASELINES).join('|')}]`,
      )
      process.exit(0)
    } else throw new Error(`unknown argument ${a}`)
  }
  return args
}

function main(): void {
  const args = parseArgs(process.argv.slice(2))
  const corpus = loadCorpus(args.data)
  if (corpus.length === 0) throw new Error(`no data files found under ${args.data}/data`)

  const make: (file: DataFile) => Detector = args.baseline ? BASELINES[args.baseline].make : () => new AnomalyDetector()
  // warm-up run (JIT) on a copy, then the measured run
  runDetector(corpus.slice(0, 3), make)
  const run = runDetector(corpus, make)

  // results files in NAB's format
  const detDir = join(args.out, args.detector)
  run.files.forEach((f, idx) => {
    const src = corpus[idx]
    const path = join(detDir, src.category, `${args.detector}_${src.file}`)
    mkdirSync(dirname(path), { recursive: true })
    const lines = ['timestamp,value,anomaly_score']
    for (let i = 0; i < f.scores.length; i++) lines.push(`${src.timestampText[i]},${src.valueText[i]},${f.scores[i]}`)
    writeFileSync(path, lines.join('\n') + '\n')
  })

  const results = scoreAllProfiles(run.files)
  const final: Record<string, Record<string, number>> = { [args.detector]: {} }
  for (const r of results) {
    final[args.detector][r.profile] = r.normalizedScore
    const rows = ['Detector,Profile,File,Threshold,Score,TP,TN,FP,FN,Total_Count']
    for (const p of r.perFile) {
      rows.push([args.detector, r.profile, p.name, r.threshold, p.score, p.tp, p.tn, p.fp, p.fn, p.total].join(','))
    }
    rows.push(
      [
        args.detector,
        r.profile,
        'Totals',
        r.threshold,
        r.rawScore,
        r.tp,
        r.tn,
        r.fp,
        r.fn,
        r.tp + r.tn + r.fp + r.fn,
      ].join(','),
    )
    writeFileSync(join(detDir, `${args.detector}_${r.profile}_scores.csv`), rows.join('\n') + '\n')
  }
  writeFileSync(join(args.out, 'final_results.json'), JSON.stringify(final, null, 2) + '\n')

  const cpu = cpus()
  console.log(`NAB benchmark: detector '${args.detector}'`)
  console.log(
    `data:    ${args.data} (${corpus.length} files, ${run.points} points, ${run.files.reduce((a, f) => a + f.windows.length, 0)} windows)`,
  )
  console.log(`results: ${detDir}`)
  for (const r of results) {
    console.log(
      `${r.profile.padEnd(20)} score ${r.normalizedScore.toFixed(2).padStart(7)}  (raw ${r.rawScore.toFixed(3)}, null ${r.nullScore.toFixed(1)}, perfect ${r.perfectScore.toFixed(1)}, threshold ${r.threshold}, rows TP ${r.tp} FP ${r.fp} FN ${r.fn})`,
    )
  }
  if (args.baseline) {
    const p = BASELINES[args.baseline].published
    console.log(
      `published whole-corpus scores of ${args.baseline}: standard ${p.standard}, reward_low_FP_rate ${p.reward_low_FP_rate}, reward_low_FN_rate ${p.reward_low_FN_rate}`,
    )
  }
  console.log(
    `throughput: ${Math.round(run.points / run.seconds).toLocaleString('en-US')} points/s (single core, ${run.seconds.toFixed(3)} s in update())`,
  )
  console.log(
    `machine: ${cpu[0]?.model ?? 'unknown CPU'}, ${cpu.length} cores, node ${process.version}, ${process.platform}/${process.arch}`,
  )
}

main()
