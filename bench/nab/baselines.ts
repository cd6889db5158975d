/**
 * Reference detectors with published NAB scores, run through the same corpus reader and scorer as
 * Sentinel's detector. They put the local score in context: the local data is part of the corpus,
 * so a reference's local score against its published whole-corpus score shows how the local part
 * compares (a single reference is a rough guide, not a conversion).
 *
 * windowedGaussian (NAB's "Windowed Gaussian", published standard score 39.6), written from its
 * description: the score of a value is 1 - P(|Z| beyond it), two-sided Gaussian tail from the mean
 * and standard deviation of a window of up to 6400 past values, recomputed every 100 points once
 * the window is full (after every point while it fills); the first point scores 0.
 */
import { normalTail } from '../../src/anomaly/stats'
import type { Detector } from './corpus'

export class WindowedGaussian implements Detector {
  private readonly window: number[] = []
  private readonly buffer: number[] = []
  private mean = 0
  private sd = 1e-6

  constructor(
    private readonly windowSize = 6400,
    private readonly stepSize = 100,
  ) {}

  update(value: number): number {
    const score = this.window.length > 0 ? 1 - normalTail(Math.abs(value - this.mean) / this.sd) : 0
    if (this.window.length < this.windowSize) {
      this.window.push(value)
      this.refit()
    } else {
      this.buffer.push(value)
      if (this.buffer.length === this.stepSize) {
        this.window.splice(0, this.stepSize)
        this.window.push(...this.buffer)
        this.buffer.length = 0
        this.refit()
      }
    }
    return score
  }

  private refit(): void {
    let sum = 0
    for (const v of this.window) sum += v
    this.mean = sum / this.window.length
    let ss = 0
    for (const v of this.window) ss += (v - this.mean) * (v - this.mean)
    // population standard deviation; a constant window gets a tiny one instead of zero
    this.sd = Math.sqrt(ss / this.window.length) || 1e-6
  }
}

export const BASELINES: Record<string, { make: () => Detector; publishedStandard: number }> = {
  windowedGaussian: { make: () => new WindowedGaussian(), publishedStandard: 39.6 },
}
