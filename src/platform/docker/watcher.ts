/**
 * Follows Docker's event stream in the main process, so a container death is seen when it happens
 * rather than at the next poll. Reconnects with backoff; remembers how far it has read, so after a
 * restart of Sentinel the events it missed are replayed (Docker's `since`).
 */
import type { Readable } from 'node:stream'
import type { DockerEvent } from './events'
import { getDocker } from './client'

export interface WatcherOptions {
  onEvent: (event: DockerEvent) => Promise<void>
  /** Where to resume (nanoseconds since the epoch), or undefined for "from now". */
  loadPosition: () => Promise<number | undefined>
  savePosition: (timeNano: number) => Promise<void>
  log: (level: 'info' | 'warn' | 'error', msg: string, data?: Record<string, unknown>) => void
  /** Never replay more than this far back. */
  maxReplayMs?: number
  /**
   * Called once, when the first stream is open, with the gap no event will fill (ms since the
   * epoch): from the saved position (absent on a first start: everything before) to where the
   * replay starts. Empty when the replay reaches back to the saved position.
   */
  onFirstConnect?: (gap: { fromMs: number | null; toMs: number }) => void
}

export type WatcherStatus = { state: 'up' } | { state: 'down'; reason: string } | { state: 'starting' }

// "Just before an event": times in ns since the epoch are ~1.8e18, beyond a double's integer
// precision (steps of 256 ns), so 1 ns earlier would be the same number. A microsecond is safe;
// events replayed from that microsecond are harmless (handling is keyed by the event).
const BEFORE_NS = 1000

export class DockerEventWatcher {
  private stream: Readable | null = null
  private stopped = false
  private backoffMs = 250
  private highWater = 0
  private handledMax = 0
  /** The earliest event whose handling failed (0: none). */
  private failedMin = 0
  private readonly inFlight = new Map<number, number>()
  private saveTimer: NodeJS.Timeout | null = null
  private connectedOnce = false
  status: WatcherStatus = { state: 'starting' }

  constructor(private readonly opts: WatcherOptions) {}

  start(): void {
    this.stopped = false
    void this.connect()
  }

  async stop(): Promise<void> {
    this.stopped = true
    this.stream?.destroy()
    this.stream = null
    if (this.saveTimer) clearTimeout(this.saveTimer)
    if (this.highWater) await this.opts.savePosition(this.highWater).catch(() => {})
  }

  private async connect(): Promise<void> {
    if (this.stopped) return
    try {
      const saved = this.highWater || (await this.opts.loadPosition())
      const maxReplay = this.opts.maxReplayMs ?? 3600_000
      const floorNano = (Date.now() - maxReplay) * 1e6
      const sinceNano = saved ? Math.max(saved, floorNano) : undefined
      const docker = await getDocker()
      const connectedAt = Date.now()
      const options: Record<string, unknown> = { filters: { type: ['container'] } }
      // Docker takes `since` in seconds with a fractional part; events at exactly `since` repeat,
      // which is harmless: handling is keyed by the event.
      if (sinceNano) options.since = (sinceNano / 1e9).toFixed(9)
      const stream = (await docker.getEvents(options)) as unknown as Readable
      this.stream = stream
      this.status = { state: 'up' }
      this.backoffMs = 250
      this.opts.log('info', 'watching Docker events', { since: options.since ?? 'now' })
      if (!this.connectedOnce) {
        this.connectedOnce = true
        this.opts.onFirstConnect?.({
          fromMs: saved ? Math.floor(saved / 1e6) : null,
          toMs: sinceNano ? Math.floor(sinceNano / 1e6) : connectedAt,
        })
      }
      let buffer = ''
      stream.on('data', (chunk: Buffer) => {
        buffer += chunk.toString('utf8')
        let nl: number
        while ((nl = buffer.indexOf('\n')) >= 0) {
          const line = buffer.slice(0, nl).trim()
          buffer = buffer.slice(nl + 1)
          if (line) this.dispatch(line)
        }
      })
      const onEnd = (why: string) => {
        if (this.stream !== stream) return
        this.stream = null
        if (this.stopped) return
        this.status = { state: 'down', reason: why }
        this.opts.log('warn', 'Docker event stream ended; reconnecting', { reason: why })
        this.retry()
      }
      stream.on('error', (err: Error) => onEnd(err.message))
      stream.on('end', () => onEnd('stream ended'))
      stream.on('close', () => onEnd('stream closed'))
    } catch (err) {
      this.status = { state: 'down', reason: (err as Error).message }
      this.retry()
    }
  }

  private retry(): void {
    if (this.stopped) return
    const delay = this.backoffMs
    this.backoffMs = Math.min(this.backoffMs * 2, 10_000)
    setTimeout(() => void this.connect(), delay).unref()
  }

  private dispatch(line: string): void {
    let event: DockerEvent
    try {
      event = JSON.parse(line) as DockerEvent
    } catch {
      this.opts.log('warn', 'unparseable Docker event', { line: line.slice(0, 200) })
      return
    }
    const t = Number(event.timeNano)
    this.inFlight.set(t, (this.inFlight.get(t) ?? 0) + 1)
    const settle = (ok: boolean) => {
      const n = (this.inFlight.get(t) ?? 1) - 1
      if (n <= 0) this.inFlight.delete(t)
      else this.inFlight.set(t, n)
      // An event whose handling failed for good pins the position before it: the next start
      // replays it (handling is keyed by the event, so what did succeed is not done twice).
      if (!ok && (this.failedMin === 0 || t < this.failedMin)) this.failedMin = t
      if (t > this.handledMax) this.handledMax = t
      // Resume from the oldest event still being handled, so none is skipped after a crash.
      let oldest = this.inFlight.size ? Math.min(...this.inFlight.keys()) - BEFORE_NS : this.handledMax
      if (this.failedMin) oldest = Math.min(oldest, this.failedMin - BEFORE_NS)
      if (oldest > this.highWater) {
        this.highWater = oldest
        this.scheduleSave()
      }
    }
    this.opts.onEvent(event).then(
      () => settle(true),
      () => settle(false),
    )
  }

  private scheduleSave(): void {
    if (this.saveTimer) return
    this.saveTimer = setTimeout(() => {
      this.saveTimer = null
      void this.opts.savePosition(this.highWater).catch(() => {})
    }, 200)
    this.saveTimer.unref()
  }
}
