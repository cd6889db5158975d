/**
 * Development helper: the detector on long series made from the local NAB data, for what depends
 * on a series' length (the contextual model's table fills as a series goes on) and which the local
 * files, about 4 000 points each, cannot show. Files of one category are chained N at a time:
 * values in order, timestamps re-laid 5 minutes apart, windows moved with their rows. The seams
 * are level shifts no label marks, so compare variants with each other, never with NAB scores.
 *
 *   tsx bench/nab/long.ts [--data DIR] [--per N] [--seeds K] '{"contextTableBits":14}' '{}' ...
 *
 * With --seeds K each variant runs with K hash seeds of the contextual model and prints each
 * standard score and their mean: collisions make single runs noisy.
 */
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { AnomalyDetector, type DetectorOptions } from '../../src/observe/anomaly-detector/index'
import { chainCorpus, loadCorpus, runDetector } from './corpus'
import { PROFILES, scoreProfile } from './scorer'

const here = dirname(fileURLToPath(import.meta.url))
let data = resolve(here, '..', '..', '..', 'shared', 'nab')
let per = 4
let seeds = 1
const variants: Partial<DetectorOptions>[] = []
const argv = process.argv.slice(2)
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === '--data') data = resolve(argv[++i])
  else if (argv[i] === '--per') per = Math.max(1, Number(argv[++i]))
  else if (argv[i] === '--seeds') seeds = Math.max(1, Number(argv[++i]))
  else variants.push(JSON.parse(argv[i]) as Partial<DetectorOptions>)
}
if (variants.length === 0) variants.push({})

const chains = chainCorpus(loadCorpus(data), per)
const points = chains.reduce((n, f) => n + f.values.length, 0)
console.log(
  `${chains.length} chains of up to ${per} files, ${points} points (longest ${Math.max(...chains.map((f) => f.values.length))})`,
)

// FNV-1a's offset basis first, then arbitrary others
const SEEDS = [2166136261, 12345, 987654321, 555555, 31337, 271828]
for (const v of variants) {
  const std: number[] = []
  for (const seed of SEEDS.slice(0, seeds)) {
    const run = runDetector(chains, () => new AnomalyDetector({ ...v, ...(seeds > 1 ? { contextSeed: seed } : {}) }))
    std.push(scoreProfile(run.files, 'standard', PROFILES.standard).normalizedScore)
  }
  const mean = std.reduce((a, b) => a + b, 0) / std.length
  console.log(
    `${JSON.stringify(v)}  standard ${std.map((x) => x.toFixed(2)).join(' ')}${seeds > 1 ? `  mean ${mean.toFixed(2)}` : ''}`,
  )
}
