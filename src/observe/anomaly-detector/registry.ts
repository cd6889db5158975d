import { AnomalyDetector, type AnomalyEvidence, type DetectorOptions, type DetectorState } from './detector'

/**
 * Map of series key -> detector with a cap on the number of series. When the
 * cap is reached, the least recently updated series is evicted. The whole
 * registry serialises to plain JSON (e.g. to be stored in Redis) and restores
 * exactly, so a restart does not relearn from nothing.
 */

export interface RegistryOptions {
  /** maximum number of series kept (default 1000) */
  maxSeries: number
  /** options for new detectors */
  detector: Partial<DetectorOptions>
}

export interface RegistryState {
  version: 1
  maxSeries: number
  detector: Partial<DetectorOptions>
  /** least recently updated first */
  series: { key: string; detector: DetectorState }[]
}

export class DetectorRegistry {
  readonly maxSeries: number
  readonly detectorOptions: Partial<DetectorOptions>
  /** insertion order = recency order (oldest first) */
  private readonly map = new Map<string, AnomalyDetector>()

  constructor(opts: Partial<RegistryOptions> = {}) {
    const max = opts.maxSeries ?? 1000
    if (!Number.isInteger(max) || max < 1) throw new Error('DetectorRegistry: maxSeries must be a positive integer')
    this.maxSeries = max
    this.detectorOptions = { ...(opts.detector ?? {}) }
  }

  get size(): number {
    return this.map.size
  }

  keys(): string[] {
    return [...this.map.keys()]
  }

  has(key: string): boolean {
    return this.map.has(key)
  }

  get(key: string): AnomalyDetector | undefined {
    return this.map.get(key)
  }

  delete(key: string): boolean {
    return this.map.delete(key)
  }

  clear(): void {
    this.map.clear()
  }

  /** Score one point of series `key`, creating its detector if needed. */
  update(key: string, value: number, timestampMs: number = Date.now()): number {
    let det = this.map.get(key)
    if (det === undefined) {
      det = new AnomalyDetector(this.detectorOptions)
      while (this.map.size >= this.maxSeries) {
        const oldest = this.map.keys().next().value as string
        this.map.delete(oldest)
      }
    } else {
      this.map.delete(key)
    }
    this.map.set(key, det)
    return det.update(value, timestampMs)
  }

  /** Evidence (expected range vs observed) for the latest point of a series. */
  evidence(key: string, k = 3): AnomalyEvidence | null {
    return this.map.get(key)?.evidence(k) ?? null
  }

  toJSON(): RegistryState {
    return {
      version: 1,
      maxSeries: this.maxSeries,
      detector: { ...this.detectorOptions },
      series: [...this.map.entries()].map(([key, det]) => ({ key, detector: det.toJSON() })),
    }
  }

  static fromJSON(state: RegistryState | string): DetectorRegistry {
    const st: RegistryState = typeof state === 'string' ? (JSON.parse(state) as RegistryState) : state
    if (typeof st !== 'object' || st === null || st.version !== 1 || !Array.isArray(st.series)) {
      throw new Error('DetectorRegistry: unsupported state')
    }
    const reg = new DetectorRegistry({ maxSeries: st.maxSeries, detector: st.detector })
    for (const { key, detector } of st.series) {
      if (typeof key !== 'string') throw new Error('DetectorRegistry: bad series key')
      reg.map.set(key, AnomalyDetector.fromJSON(detector))
    }
    while (reg.map.size > reg.maxSeries) reg.map.delete(reg.map.keys().next().value as string)
    return reg
  }
}
