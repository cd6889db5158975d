/** The fleet benchmark's command line, checked: a bad value is named, with what was expected. */

export interface FleetBenchOptions {
  nodes: number[]
  containers: number[]
  /** Length of each configuration's kill window. */
  minutes: number
  /** Seconds between two kills, over the whole fleet (the kinds alternate). */
  intervalS: number
  quick: boolean
  /** Containers of each kind killed at once; 0: the steady run. */
  burst: number
  repeat: number
  /** MAX_CONCURRENT_REMEDIATIONS for the controller; undefined: its default. */
  maxConcurrent?: number
  burstOrder: 'sequential' | 'together'
}

export const USAGE = `usage: npm run bench:fleet -- [--nodes 1,2,3] [--containers 10,50] [--minutes 2] [--interval 2] [--quick]
                            [--burst 30 [--burst-order sequential|together]] [--repeat N] [--max-concurrent N]`

export class UsageError extends Error {}

export function parseOptions(argv: string[]): FleetBenchOptions {
  const seen = new Map<string, string | true>()
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (!a.startsWith('--')) throw new UsageError(`unexpected argument ${JSON.stringify(a)}`)
    const name = a.slice(2)
    if (name === 'quick') {
      seen.set(name, true)
      continue
    }
    const value = argv[i + 1]
    if (value === undefined || value.startsWith('--')) throw new UsageError(`--${name} needs a value`)
    seen.set(name, value)
    i++
  }
  const known = [
    'nodes',
    'containers',
    'minutes',
    'interval',
    'quick',
    'burst',
    'repeat',
    'max-concurrent',
    'burst-order',
  ]
  for (const k of seen.keys()) if (!known.includes(k)) throw new UsageError(`unknown option --${k}`)

  const int = (name: string, fallback: number, min: number, max: number) => {
    const v = seen.get(name)
    if (v === undefined) return fallback
    const n = Number(v)
    if (!Number.isInteger(n) || n < min || n > max)
      throw new UsageError(`--${name} must be a whole number from ${min} to ${max}, not ${JSON.stringify(v)}`)
    return n
  }
  const num = (name: string, fallback: number, min: number, max: number) => {
    const v = seen.get(name)
    if (v === undefined) return fallback
    const n = Number(v)
    if (!Number.isFinite(n) || n < min || n > max)
      throw new UsageError(`--${name} must be a number from ${min} to ${max}, not ${JSON.stringify(v)}`)
    return n
  }
  const list = (name: string, fallback: number[], min: number, max: number) => {
    const v = seen.get(name)
    if (v === undefined) return fallback
    const xs = String(v).split(',').map(Number)
    if (xs.some((n) => !Number.isInteger(n) || n < min || n > max))
      throw new UsageError(
        `--${name} must be a comma-separated list of whole numbers from ${min} to ${max}, not ${JSON.stringify(v)}`,
      )
    return [...new Set(xs)].sort((a, b) => a - b)
  }
  const quick = seen.get('quick') === true
  const order = seen.get('burst-order') ?? 'sequential'
  if (order !== 'sequential' && order !== 'together')
    throw new UsageError(`--burst-order must be sequential or together, not ${JSON.stringify(order)}`)
  const maxConcurrent = seen.has('max-concurrent') ? int('max-concurrent', 2, 1, 1000) : undefined
  return {
    nodes: list('nodes', [1, 2, 3], 1, 8),
    containers: list('containers', [10, 50], 2, 200),
    minutes: quick ? num('minutes', 1 / 3, 0.1, 120) : num('minutes', 2, 0.1, 120),
    intervalS: num('interval', 2, 0.2, 60),
    quick,
    burst: int('burst', 0, 0, 200),
    repeat: int('repeat', 1, 1, 50),
    ...(maxConcurrent !== undefined ? { maxConcurrent } : {}),
    burstOrder: order,
  }
}
