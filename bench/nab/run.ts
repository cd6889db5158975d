/**
 * NAB benchmark for Sentinel's streaming anomaly detector.
 *
 *   tsx bench/nab/run.ts [--data DIR] [--out DIR] [--detector NAME] [--baseline windowedGaussian|relativeEntropy|knnCad|contextOSE|contextOSEv2]
 *   tsx bench/nab/run.ts --cv [--data DIR] [--detectors a,b,...] [--seeds N] [--chain N]
 *   tsx bench/nab/run.ts --published [--data DIR] [--edition later|published]
 *
 * DIR (default ../shared/nab relative to the project root) must have NAB's
 * layout: DIR/data/<category>/*.csv and DIR/labels/combined_windows.json.
 * Results are written in NAB's results format:
 *   OUT/<detector>/<category>/<detector>_<file>.csv  (timestamp,value,anomaly_score)
 * plus OUT/<detector>/<detector>_<profile>_scores.csv and OUT/final_results.json.
 * --baseline runs a reference detector with a published score instead (see baselines.ts).
 * --cv prints the cross-validation folds (cv.ts, cv-report.ts) of each detector named in
 * --detectors (repeatable: names separated by commas, or JSON options: '{"restPoints":70}' for the
 * shipped detector, 'cad{"warmup":600}' for the streaming CAD, 'blend0.8{}' for the two together,
 * 'agree1{"spatialTolerance":0.05}' for their geometric mean;
 * default: the shipped detector, its variants, the streaming CAD with and without the file's range,
 * and contextOSE, see candidates.ts), Sentinel's variants as means over N hash seeds (default 3); it writes nothing.
 * --chain N runs the same folds on long series: each category's files chained N at a time
 * (chainCorpus in corpus.ts), for what a detector does as a series ages.
 * --published compares the CAD OSE reproduction with NAB's published results of the local files,
 * row by row and file by file (published.ts).
 */
import { cpus } from 'node:os'
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { AnomalyDetector } from '../../src/observe/anomaly-detector/index'
import { BASELINES } from './baselines'
import { DEFAULT_CV, runCv } from './cv-report'
import { type DataFile, type Detector, chainCorpus, loadCorpus, runDetector } from './corpus'
import { main as comparePublished } from './published'
import { scoreAllProfiles } from './scorer'

const here = dirname(fileURLToPath(import.meta.url))
const projectRoot = resolve(here, '..', '..')

function parseArgs(argv: string[]): {
  data: string
  out: string
  detector: string
  baseline: string | null
  cv: boolean
  detectors: string[]
  seeds: number
  chain: number
} {
  const args = {
    data: resolve(projectRoot, '..', 'shared', 'nab'),
    out: join(here, 'results'),
    detector: 'sentinel',
    baseline: null as string | null,
    cv: false,
    detectors: DEFAULT_CV,
    seeds: 3,
    chain: 0,
  }
  let named = false
  let namedCv = false
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
    } else if (a === '--cv') args.cv = true
    else if (a === '--chain') {
      args.chain = Number(next())
      if (!Number.isInteger(args.chain) || args.chain < 1)
        throw new Error(`--chain needs a whole number of files (got ${args.chain})`)
    } else if (a === '--detectors') {
      // repeatable; a plain value is a comma list of names, a JSON one is detector options
      const v = next()
      if (!namedCv) args.detectors = []
      namedCv = true
      args.detectors.push(
        ...(/^(cad|blend[0-9.]*|agree[0-9.]*)?\{/.test(v.trim()) ? [v] : v.split(',').filter(Boolean)),
      )
    } else if (a === '--seeds') args.seeds = Math.max(1, Math.floor(Number(next())) || 1)
    else if (a === '--help' || a === '-h') {
      console.log(
        `usage: tsx bench/nab/run.ts [--data DIR] [--out DIR] [--detector NAME] [--baseline ${Object.keys(BASELINES).join('|')}]\n` +
          '       tsx bench/nab/run.ts --cv [--data DIR] [--detectors a,b,... | --detectors JSON ...] [--seeds N]',
      )
      process.exit(0)
    } else throw new Error(`unknown argument ${a}`)
  }
  return args
}

function main(): void {
  if (process.argv.includes('--published')) {
    comparePublished(process.argv.slice(2))
    return
  }
  const args = parseArgs(process.argv.slice(2))
  const files = loadCorpus(args.data)
  if (files.length === 0) throw new Error(`no data files found under ${args.data}/data`)
  if (args.cv) {
    const corpus = args.chain > 0 ? chainCorpus(files, args.chain) : files
    const points = corpus.reduce((n, f) => n + f.values.length, 0)
    console.log(
      `NAB cross-validation: ${args.data} (${corpus.length} ${args.chain > 0 ? `chains of up to ${args.chain} files` : 'files'}, ${points} points)`,
    )
    console.log(
      'folds: each category left out (threshold chosen on the others), then the files cut in two in time (threshold chosen on one half, applied to the other)',
    )
    runCv(corpus, args.detectors, args.seeds)
    return
  }

  const make: (file: DataFile) => Detector = args.baseline ? BASELINES[args.baseline].make : () => new AnomalyDetector()
  // warm-up run (JIT) on a copy, then the measured run; a fast detector runs 5 more times and the
  // throughput is their median (the machine is shared: a single pass swings by 2x)
  runDetector(files.slice(0, 3), make)
  const run = runDetector(files, make)
  const speeds = [run.points / run.seconds]
  if (run.seconds < 1) {
    speeds.length = 0
    for (let i = 0; i < 5; i++) {
      const r = runDetector(files, make)
      speeds.push(r.points / r.seconds)
    }
  }
  speeds.sort((a, b) => a - b)
  const pointsPerSecond = speeds[speeds.length >> 1]

  // results files in NAB's format
  const detDir = join(args.out, args.detector)
  run.files.forEach((f, idx) => {
    const src = files[idx]
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
    `data:    ${args.data} (${files.length} files, ${run.points} points, ${run.files.reduce((a, f) => a + f.windows.length, 0)} windows)`,
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
      `published whole-files scores of ${args.baseline}: standard ${p.standard}, reward_low_FP_rate ${p.reward_low_FP_rate}, reward_low_FN_rate ${p.reward_low_FN_rate}`,
    )
  }
  console.log(
    `throughput: ${Math.round(pointsPerSecond).toLocaleString('en-US')} points/s (single core, median of ${speeds.length} pass${speeds.length > 1 ? 'es' : ''} over the files, time in update() only; slowest ${Math.round(speeds[0]).toLocaleString('en-US')})`,
  )
  console.log(
    `machine: ${cpu[0]?.model ?? 'unknown CPU'}, ${cpu.length} cores, node ${process.version}, ${process.platform}/${process.arch}`,
  )
}

main()
