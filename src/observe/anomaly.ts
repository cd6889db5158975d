/**
 * Anomaly scoring of the monitored series: every checked reading (CPU, memory, disk, latency, per
 * host and per container) goes through the streaming detector of its series (src/observe/anomaly-detector), and a
 * score above the threshold becomes an `anomaly` alert carrying its evidence. The AlertTracker
 * then applies the anomaly `for` and hold-down like for any alert.
 *
 * Ticks run in fresh step processes, so each series' detector state lives in Redis: one pipeline
 * (a tick lock and an MGET) loads every series of the tick, one pipeline saves them. A state is
 * ~10 KB whatever the series' length, and expires when its series has not been seen for `ttlMs`.
 */
import { createHash, randomBytes } from 'node:crypto'
import type { Redis } from 'ioredis'
import {
  AnomalyDetector,
  type AnomalyEvidence,
  type DetectorOptions,
  type DetectorState,
} from './anomaly-detector/index'
import type { Alert } from '../platform/store/model'
import type { CheckedReading } from './checks'
import type { ReadingUnit } from './types'

export interface AnomalyOptions {
  /** Score (0–1; -log10 of the point's probability / 10) above which a point is anomalous; default 0.5. */
  threshold?: number
  /** Points a series learns before it is scored; default 15. */
  baselinePoints?: number
  /** A series anomalous for this long is taken as its new normal and learned again; default 30 minutes. */
  adaptAfterMs?: number
  /** Default `sentinel:observe:anomaly:`. */
  prefix?: string
  /** The state of a series not seen for this long is dropped; default 7 days. */
  ttlMs?: number
  /** At most this many series are scored per tick; default 1000. */
  maxSeries?: number
  /** Further detector options. */
  detector?: Partial<DetectorOptions>
  /** How large a move must be in the series' own units to count (see MinChange). */
  minChange?: MinChange
}

/** What is kept per series. */
export interface SeriesState {
  v: 1
  detector: DetectorState
  /** Since when (Unix ms) the series has been anomalous; its points stay out of the model meanwhile. */
  anomalousSince?: number
}

export interface SeriesScore {
  series: string
  fingerprint: string
  value: number
  score: number
  /** Above the threshold by a deviation that matters. */
  anomalous: boolean
  /** Learned into the model; false: held out while the anomaly lasts. */
  learned: boolean
}

export interface AnomalyRound {
  /** Anomalous series, as alerts (none for a series whose fixed threshold is breached: that alert covers it). */
  alerts: Alert[]
  /** Fingerprints of the scored series that are not anomalous. */
  clear: string[]
  scores: SeriesScore[]
  /** Why nothing was scored (another tick holds the lock). */
  skipped?: string
}

/**
 * How large a move from the series' usual level (its recent median) must be, in the series' own
 * units, before an anomaly can page anyone: a score says a point is improbable, not that it
 * matters. A probe whose ordinary jitter takes it from 20 to 30 ms, or a disk at 41.20 % moving a
 * tenth of a percent, is improbable to a detector that learned a quiet series, and no incident.
 */
export interface MinChange {
  /** Latency, ms (ANOMALY_MIN_CHANGE_MS). */
  ms: number
  /** Percentages (CPU, memory, disk), in percentage points (ANOMALY_MIN_CHANGE_PERCENT). */
  percent: number
  /** Latency, sizes and rates: also this share of the usual level (ANOMALY_MIN_CHANGE_RATIO). */
  ratio: number
}

export const DEFAULT_MIN_CHANGE: MinChange = { ms: 20, percent: 10, ratio: 0.2 }

/** Floors below which no move counts whatever the settings: 1 MiB of memory, 1 KiB/s, 1 error/s. */
const UNIT_FLOOR: Record<ReadingUnit, number> = {
  percent: 0,
  ms: 0,
  bytes: 1024 * 1024,
  bytes_per_second: 1024,
  errors_per_second: 1,
}

/** The smallest move from the median that can count, for a series at `median`. */
export function minDeviation(unit: ReadingUnit, median: number, min: MinChange = DEFAULT_MIN_CHANGE): number {
  const relative = Math.abs(median) * min.ratio
  switch (unit) {
    case 'percent':
      return min.percent
    case 'ms':
      return Math.max(min.ms, relative)
    case 'bytes':
    case 'bytes_per_second':
      return Math.max(UNIT_FLOOR[unit], relative)
    default:
      return UNIT_FLOOR[unit] ?? 0
  }
}

/** Expected range: mean ± this many standard deviations of the recent window. */
const EVIDENCE_K = 3
const LOCK_MS = 30_000

const UNLOCK_LUA = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`

/** `anomaly:<16 hex>` per series (memory and CPU of one host are two series, two alerts). */
export function anomalyFingerprint(series: string): string {
  return `anomaly:${createHash('sha256').update(`anomaly\u0000${series}`).digest('hex').slice(0, 16)}`
}

const round = (x: number) => (Number.isFinite(x) ? Math.round(x * 1000) / 1000 : x)

export class AnomalyScorer {
  readonly threshold: number
  readonly baselinePoints: number
  readonly adaptAfterMs: number
  readonly minChange: MinChange
  readonly ttlMs: number
  readonly maxSeries: number
  readonly prefix: string
  private readonly detectorOptions: Partial<DetectorOptions>
  /** Without Redis: the states of this process. */
  private readonly memory = new Map<string, { detector: AnomalyDetector; anomalousSince?: number }>()

  constructor(
    private readonly redis?: Redis,
    opts: AnomalyOptions = {},
  ) {
    this.threshold = opts.threshold ?? 0.5
    this.baselinePoints = opts.baselinePoints ?? 15
    this.adaptAfterMs = opts.adaptAfterMs ?? 30 * 60_000
    this.minChange = opts.minChange ?? DEFAULT_MIN_CHANGE
    this.ttlMs = opts.ttlMs ?? 7 * 86_400_000
    this.maxSeries = opts.maxSeries ?? 1000
    this.prefix = opts.prefix ?? 'sentinel:observe:anomaly:'
    if (!(this.threshold >= 0 && this.threshold <= 1))
      throw new Error(`AnomalyScorer: threshold must be from 0 to 1, got ${this.threshold}`)
    if (!Number.isInteger(this.baselinePoints) || this.baselinePoints < 1)
      throw new Error(`AnomalyScorer: baselinePoints must be a whole number >= 1, got ${this.baselinePoints}`)
    for (const [name, v] of Object.entries({
      adaptAfterMs: this.adaptAfterMs,
      ttlMs: this.ttlMs,
      maxSeries: this.maxSeries,
    })) {
      if (!Number.isFinite(v) || v < 1) throw new Error(`AnomalyScorer: ${name} must be >= 1, got ${v}`)
    }
    // No damping: a monitor wants the score while the anomaly lasts, not only its first point.
    this.detectorOptions = { ...opts.detector, baseline: this.baselinePoints, dampDecay: 0 }
  }

  key(series: string): string {
    return `${this.prefix}series:${series}`
  }

  private get lockKey(): string {
    return `${this.prefix}lock`
  }

  /** Scores one tick's checked readings (one per series) and learns them. */
  async score(checked: CheckedReading[], now: number = Date.now()): Promise<AnomalyRound> {
    const bySeries = new Map<string, CheckedReading>()
    for (const c of checked)
      if (Number.isFinite(c.reading.value) && (bySeries.has(c.reading.series) || bySeries.size < this.maxSeries))
        bySeries.set(c.reading.series, c)
    const items = [...bySeries.values()]
    const out: AnomalyRound = { alerts: [], clear: [], scores: [] }
    if (!items.length) return out

    const token = randomBytes(8).toString('hex')
    let states: ({ detector: AnomalyDetector; anomalousSince?: number } | undefined)[]
    if (this.redis) {
      // A tick that overlaps another would learn the same series twice from stale state: it skips.
      const res =
        (await this.redis
          .pipeline()
          .set(this.lockKey, token, 'PX', LOCK_MS, 'NX')
          .mget(items.map((c) => this.key(c.reading.series)))
          .exec()) ?? []
      if (res[0]?.[0]) throw res[0][0]
      if (res[0]?.[1] !== 'OK') return { ...out, skipped: 'another tick is scoring the series' }
      if (res[1]?.[0]) throw res[1][0]
      states = ((res[1]?.[1] ?? []) as (string | null)[]).map((raw) => this.parse(raw))
    } else {
      states = items.map((c) => this.memory.get(c.reading.series))
    }

    const toSave: [string, string][] = []
    // Whatever happens while scoring, what was scored is saved and the lock released; a failure
    // there is the one thrown (it takes precedence over a scoring error), else the scoring error.
    let scoringFailed = false
    let scoringError: unknown
    try {
      items.forEach((c, i) => {
        const st = states[i] ?? { detector: new AnomalyDetector(this.detectorOptions) }
        const r = c.reading
        const at = Date.parse(r.at)
        const t = Number.isFinite(at) ? at : now
        const score = st.detector.peek(r.value)
        const evidence = st.detector.evidence(EVIDENCE_K, r.value)
        const anomalous =
          score > this.threshold &&
          !!evidence &&
          Math.abs(r.value - evidence.p50) >= minDeviation(r.unit, evidence.p50, this.minChange)
        if (anomalous) st.anomalousSince ??= t
        else st.anomalousSince = undefined
        // An anomalous point stays out of the model, so a lasting shift keeps scoring (SPOT does the
        // same); past adaptAfterMs the shift is the new normal and is learned.
        const learned = !anomalous || t - st.anomalousSince! >= this.adaptAfterMs
        if (learned) st.detector.update(r.value, t)
        const fingerprint = anomalyFingerprint(r.series)
        out.scores.push({ series: r.series, fingerprint, value: r.value, score: round(score), anomalous, learned })
        if (anomalous && !c.breaching) out.alerts.push(this.alert(c, fingerprint, score, evidence!, st.anomalousSince!))
        else out.clear.push(fingerprint)
        if (this.redis) {
          const saved: SeriesState = {
            v: 1,
            detector: st.detector.toJSON(),
            ...(st.anomalousSince !== undefined ? { anomalousSince: st.anomalousSince } : {}),
          }
          toSave.push([this.key(r.series), JSON.stringify(saved)])
        } else {
          this.memory.set(r.series, st)
        }
      })
    } catch (err) {
      scoringFailed = true
      scoringError = err
    }
    if (this.redis) {
      const pipe = this.redis.pipeline()
      for (const [key, json] of toSave) pipe.set(key, json, 'PX', this.ttlMs)
      pipe.eval(UNLOCK_LUA, 1, this.lockKey, token)
      const res = (await pipe.exec()) ?? []
      const failed = res.find(([err]) => err)
      if (failed) throw failed[0]
    }
    if (scoringFailed) throw scoringError
    return out
  }

  /** The stored state of a series (null when none). */
  async state(series: string): Promise<SeriesState | null> {
    if (!this.redis) {
      const m = this.memory.get(series)
      return m
        ? {
            v: 1,
            detector: m.detector.toJSON(),
            ...(m.anomalousSince !== undefined ? { anomalousSince: m.anomalousSince } : {}),
          }
        : null
    }
    const raw = await this.redis.get(this.key(series))
    return raw ? (JSON.parse(raw) as SeriesState) : null
  }

  /** A state that cannot be read (corrupt, or from an older detector) starts the series afresh. */
  private parse(raw: string | null): { detector: AnomalyDetector; anomalousSince?: number } | undefined {
    if (!raw) return undefined
    try {
      const st = JSON.parse(raw) as SeriesState
      if (st?.v !== 1) return undefined
      const since =
        typeof st.anomalousSince === 'number' && Number.isFinite(st.anomalousSince) ? st.anomalousSince : undefined
      return {
        detector: AnomalyDetector.fromJSON(st.detector),
        ...(since !== undefined ? { anomalousSince: since } : {}),
      }
    } catch {
      return undefined
    }
  }

  private alert(c: CheckedReading, fingerprint: string, score: number, ev: AnomalyEvidence, since: number): Alert {
    const r = c.reading
    return {
      fingerprint,
      type: 'anomaly',
      severity: 'warning',
      metric: r.metric,
      value: r.value,
      // No fixed threshold was crossed; the expected range is in the details.
      threshold: null,
      resource: r.resource,
      labels: { ...r.labels, check: c.check, source: r.source },
      source: r.query,
      at: r.at,
      // The first entries are what the rule analyser quotes.
      details: {
        series: r.series,
        observed: r.value,
        // Every monitored metric (percent, ms) is non-negative, and percentages stop at 100.
        expectedLow: round(Math.max(0, ev.expectedLow)),
        expectedHigh: round(r.unit === 'percent' ? Math.min(100, ev.expectedHigh) : ev.expectedHigh),
        score: round(score),
        scoreThreshold: this.threshold,
        median: round(ev.p50),
        zScore: round(Math.max(-1e6, Math.min(1e6, ev.zScore))),
        mean: round(ev.mean),
        sd: round(ev.sd),
        p01: round(ev.p01),
        p99: round(ev.p99),
        samples: ev.samples,
        anomalousSince: new Date(since).toISOString(),
        unit: r.unit,
        check: c.check,
        readingSource: r.source,
      },
    }
  }
}
