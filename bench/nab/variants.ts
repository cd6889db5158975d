/**
 * Shared by the development helpers that score detector variants on reshaped local NAB data
 * (short.ts, coarse.ts): their command line and the scoring of each variant.
 */
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { AnomalyDetector, type DetectorOptions } from '../../src/observe/anomaly-detector/index'
import { BASELINES } from './baselines'
import { type DataFile, runDetector } from './corpus'
import { scoreAllProfiles } from './scorer'

const here = dirname(fileURLToPath(import.meta.url))

/**
 * `[--data DIR] [--<flag> N] variant...`: a variant is JSON detector options or a reference's name.
 * N is a whole number of at least 1 (`fallback` when absent); no variant means the default detector.
 */
export function parseVariantArgs(
  argv: string[],
  flag: string,
  fallback: number,
): { data: string; value: number; variants: string[] } {
  let data = resolve(here, '..', '..', '..', 'shared', 'nab')
  let value = fallback
  const variants: string[] = []
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--data') data = resolve(argv[++i])
    else if (argv[i] === `--${flag}`) value = Math.max(1, Math.floor(Number(argv[++i])))
    else variants.push(argv[i])
  }
  if (!Number.isFinite(value)) throw new Error(`--${flag} needs a number`)
  return { data, value, variants: variants.length > 0 ? variants : ['{}'] }
}

/** Run each variant over the files and print its three normalised scores. */
export function scoreVariants(files: readonly DataFile[], variants: readonly string[]): void {
  for (const v of variants) {
    const make = v.startsWith('{')
      ? () => new AnomalyDetector(JSON.parse(v) as Partial<DetectorOptions>)
      : BASELINES[v]?.make
    if (make === undefined)
      throw new Error(`unknown variant ${v}: JSON detector options or one of ${Object.keys(BASELINES).join(', ')}`)
    const r = scoreAllProfiles(runDetector(files, make).files)
    console.log(`${v.padEnd(40)} ${r.map((p) => `${p.profile} ${p.normalizedScore.toFixed(2)}`).join('  ')}`)
  }
}
