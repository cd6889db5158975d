/**
 * The detectors `bench:nab -- --cv` compares: Sentinel's detector as shipped, variants of it (each
 * a set of detector options, the same code), and NAB's references (baselines.ts). A variant is
 * adopted only when its mean over the folds beats the shipped detector's by more than the folds'
 * spread allows (see README, "Anomaly detection on NAB"); the local total decides nothing.
 */
import { AnomalyDetector, type DetectorOptions } from '../../src/observe/anomaly-detector/index'
import { BASELINES } from './baselines'
import type { DataFile, Detector } from './corpus'

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
  }),
  // ablations of the shipped detector: each part is kept only if removing it lowers the folds' mean
  variant('without-context', 'shipped, without the pattern novelty (value tails only)', { contextWeight: 0 }),
  variant('without-calibration', "shipped, without the calibration against the series' own scores", {
    scoreLikelihoodLong: 0,
  }),
  variant('without-rest', 'shipped, without the rest period after an alert', { restPoints: 0 }),
  variant('without-damping', 'shipped, without the damping of repeated alerts', { dampDecay: 0 }),
  variant('without-min-beta', "shipped, without the floor on the value tails' mean excess", { valueMinBeta: 0 }),
]

export function candidate(name: string): Candidate {
  const v = VARIANTS.find((c) => c.name === name)
  if (v) return v
  if (name.startsWith('{')) return variant(name, 'detector options', JSON.parse(name) as Partial<DetectorOptions>)
  const b = BASELINES[name]
  if (b)
    return { name, about: `NAB reference (published standard ${b.published.standard})`, shippable: false, make: b.make }
  throw new Error(
    `unknown detector ${name}: one of ${[...VARIANTS.map((c) => c.name), ...Object.keys(BASELINES)].join(', ')}, or JSON detector options`,
  )
}
