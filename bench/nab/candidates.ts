/**
 * The detectors `bench:nab -- --cv` compares: Sentinel's detector as shipped, variants of it (each
 * a set of detector options, the same code), the streaming CAD studied for #24 (cad-stream.ts) and
 * NAB's references (baselines.ts). A variant is
 * adopted only when its mean over the folds beats the shipped detector's by more than the folds'
 * spread allows (see README, "Anomaly detection on NAB"); the local total decides nothing.
 */
import { AnomalyDetector, type DetectorOptions } from '../../src/observe/anomaly-detector/index'
import { StreamingCad, type CadOptions } from './cad-stream'
import { BASELINES } from './baselines'
import type { DataFile, Detector } from './corpus'
import { probationaryLength } from './scorer'

export interface Candidate {
  name: string
  /** what it is */
  about: string
  /** can run live: no file range, bounded state, fast enough */
  shippable: boolean
  make: (file: DataFile) => Detector
}

const variant = (name: string, about: string, opts: Partial<DetectorOptions>): Candidate => ({
  name,
  about,
  shippable: true,
  make: () => new AnomalyDetector(opts),
})

/** Sentinel's variants, by name: the shipped one first. */
export const VARIANTS: Candidate[] = [
  variant('sentinel', "the detector as shipped (src/observe/anomaly-detector's defaults)", {}),
  variant('sentinel-before-24', 'the detector before issue #24: young series damped and rested less', {
    dampAge: 2,
    restAge: 0.2,
    noveltyMinVar: 1e-4,
    spatialTolerance: 0,
  }),
  variant(
    'before-long-series',
    "the detector of #24's first two rounds: novelty floor 1e-4 (false alerts grow with a series' age), no spatial anomaly",
    { noveltyMinVar: 1e-4, spatialTolerance: 0 },
  ),
  // ablations of the shipped detector: each part is kept only if removing it lowers the folds' mean
  variant('without-context', 'shipped, without the pattern novelty (value tails only)', { contextWeight: 0 }),
  variant('without-calibration', "shipped, without the calibration against the series' own scores", {
    scoreLikelihoodLong: 0,
  }),
  variant('without-rest', 'shipped, without the rest period after an alert', { restPoints: 0 }),
  variant('without-damping', 'shipped, without the damping of repeated alerts', { dampDecay: 0 }),
  variant('without-min-beta', "shipped, without the floor on the value tails' mean excess", { valueMinBeta: 0 }),
  variant('without-spatial', 'shipped, without the spatial anomaly', { spatialTolerance: 0 }),
  // #24, third round: the novelty variance floor's neighbours (the shipped 0.005 with the spatial
  // anomaly was chosen on both the files' folds and the chained long series' folds, `--cv --chain 4`)
  variant('novelty-floor-0.01', "shipped, the novelty likelihood's variance floor 0.01", { noveltyMinVar: 0.01 }),
  variant('novelty-floor-0.01-alone', 'shipped, the novelty floor 0.01 and no spatial anomaly', {
    noveltyMinVar: 0.01,
    spatialTolerance: 0,
  }),
  // #24, second round: ideas against false positives on unseen data (measured then on the detector
  // of that round, `before-long-series`; the spatial anomaly of 5 % was adopted in the third round)
  variant('spatial-0.1', 'shipped, the spatial anomaly beyond 10 % of the range', { spatialTolerance: 0.1 }),
  variant('spatial-0.5', 'shipped, the spatial anomaly scoring 0.5 (ORed)', { spatialScore: 0.5 }),
  variant('spatial-agree', "shipped, the spatial anomaly only where the value tails' score is >= 0.3", {
    spatialAgree: 0.3,
  }),
  variant('spatial-persist', 'shipped, the spatial anomaly beyond 20 % of the range for 2 points in a row', {
    spatialTolerance: 0.2,
    spatialPersist: 2,
  }),
  variant('spatial-forget', 'shipped, the spatial range shrinking by 1e-5 per point', { spatialForget: 1e-5 }),
  variant('context-pair-min', 'shipped + a second contextual model half a level up; novelty where both agree', {
    contextPair: 1,
  }),
  variant('context-pair-mean', 'shipped + a second contextual model half a level up; mean novelty', {
    contextPair: 2,
  }),
  variant('smoothed', 'shipped, score smoothed (0.7 x latest + 0.3 x previous)', { scoreSmoothing: 0.7 }),
  variant('rest-freeze', "shipped, the likelihoods' long-run statistics frozen during a rest", { restFreeze: 1 }),
  variant('alert-budget', 'shipped, scores scaled down past 1 alert per 1 000 points', { alertBudget: 0.001 }),
  variant('rest-escape-jump', 'shipped, a rest escaped only by a jump of restEscape over the point before', {
    restEscapeJump: 1,
  }),
  variant('rest-200', 'shipped, rest of 200 points after an alert', { restPoints: 200 }),
  variant('rest-level-0.4', 'shipped, rest started by a score of 0.4', { restLevel: 0.4 }),
  variant('context-order-8', 'shipped, contexts of up to 8 levels', { contextOrder: 8 }),
]

const cad = (name: string, about: string, opts: Partial<CadOptions>, fileRange = false): Candidate => ({
  name,
  about,
  // told the file's range it is a reference, as CAD OSE is
  shippable: !fileRange,
  make: (f) => {
    if (!fileRange) return new StreamingCad(opts)
    let min = Infinity
    let max = -Infinity
    for (const v of f.values) {
      if (v < min) min = v
      if (v > max) max = v
    }
    // CAD OSE's rest: a fifth of NAB's probationary period
    const restPoints = Math.trunc(probationaryLength(f.values.length) / 5)
    return new StreamingCad({ ...opts, range: [min, max], restPoints })
  },
})

/** The larger of the shipped detector's score and k times the streaming CAD's (k puts CAD's usual threshold near the shipped one's). */
const blend = (k: number, opts: Partial<CadOptions>): Candidate => ({
  name: `blend${k}${JSON.stringify(opts)}`,
  about: `the larger of the shipped detector's score and ${k} x the streaming CAD's`,
  shippable: true,
  make: () => {
    const shipped = new AnomalyDetector()
    const streaming = new StreamingCad(opts)
    return { update: (v: number, t: number) => Math.max(shipped.update(v, t), k * streaming.update(v)) }
  },
})

/**
 * The shipped detector (with `opts`) kept only where the streaming CAD agrees: the geometric mean of
 * its score and min(1, k x the CAD's). A reference for the idea, not shippable: the CAD is 35 to 300
 * times too slow (see README).
 */
const agree = (k: number, opts: Partial<DetectorOptions>): Candidate => ({
  name: `agree${k}${JSON.stringify(opts)}`,
  about: `the geometric mean of the detector's score (options ${JSON.stringify(opts)}) and ${k} x the streaming CAD's`,
  shippable: false,
  make: () => {
    const shipped = new AnomalyDetector(opts)
    const streaming = new StreamingCad({})
    return {
      update: (v: number, t: number) => Math.sqrt(shipped.update(v, t) * Math.min(1, k * streaming.update(v))),
    }
  },
})

/** The streaming CAD (cad-stream.ts), studied for #24 and rejected by the folds. */
export const CAD_VARIANTS: Candidate[] = [
  cad('cad', 'streaming CAD: range from a 600-point warm-up widened by its width on each side', {}),
  cad('cad-running', 'streaming CAD: range widened to every value seen', { warmup: 150, margin: 0, running: true }),
  cad('cad-file-range', "streaming CAD told the file's range (reference: a monitor cannot know it)", {}, true),
  cad(
    'cad-as-ose',
    "streaming CAD told the file's range, with CAD OSE's first-context quirk (checks the rewrite)",
    { skipFirst: true },
    true,
  ),
  blend(0.8, {}),
  agree(1, { spatialTolerance: 0.05 }),
]

export function candidate(name: string): Candidate {
  const v = [...VARIANTS, ...CAD_VARIANTS].find((c) => c.name === name)
  if (v) return v
  const m = /^blend([0-9.]+)(\{.*\})$/.exec(name)
  if (m) return blend(Number(m[1]), JSON.parse(m[2]) as Partial<CadOptions>)
  const a = /^agree([0-9.]+)(\{.*\})$/.exec(name)
  if (a) return agree(Number(a[1]), JSON.parse(a[2]) as Partial<DetectorOptions>)
  if (name.startsWith('cad{'))
    return cad(name, 'streaming CAD options', JSON.parse(name.slice(3)) as Partial<CadOptions>)
  if (name.startsWith('{')) return variant(name, 'detector options', JSON.parse(name) as Partial<DetectorOptions>)
  const b = BASELINES[name]
  if (b)
    return { name, about: `NAB reference (published standard ${b.published.standard})`, shippable: false, make: b.make }
  throw new Error(
    `unknown detector ${name}: one of ${[...VARIANTS, ...CAD_VARIANTS].map((c) => c.name).join(', ')}, ${Object.keys(BASELINES).join(', ')}; or JSON options: {...} (shipped detector), cad{...} (streaming CAD), blend<k>{...}, agree<k>{...}`,
  )
}
