/**
 * A container's recent logs through the Engine API (./engine-api, not dockerode: this runs in
 * short-lived step processes). Without a TTY, Docker multiplexes stdout and stderr into frames
 * with an 8-byte header: [stream, 0, 0, 0, size (uint32 big-endian)], then `size` bytes.
 * Only a watched container's logs are read: the caller hands a container from the listing filtered
 * by the watch label (engine-api's `findWatchedContainer`), never a bare name.
 */
import { engineGet, engineRequest, type WatchedContainer } from './engine-api'

export interface LogOptions {
  /** Lines asked of Docker (its `tail`). Default 200. */
  tail?: number
  /** The text returned is at most this many bytes, the newest kept. Default 8 KiB. */
  maxBytes?: number
  /** Whether the container has a TTY (raw stream). Looked up with inspect when not given. */
  tty?: boolean
  timeoutMs?: number
  socketPath?: string
  /** Prefix each line with `stderr: ` when it came from stderr. Default false. */
  markStderr?: boolean
}

export interface LogFrame {
  stream: 'stdin' | 'stdout' | 'stderr'
  data: Buffer
}

const STREAMS = ['stdin', 'stdout', 'stderr'] as const

/**
 * Splits Docker's multiplexed stream into frames. Returns the frames and the bytes of an
 * incomplete trailing frame (a header or payload cut short), which a streaming caller prepends
 * to the next chunk.
 */
export function demuxDockerStream(buf: Buffer): { frames: LogFrame[]; rest: Buffer } {
  const frames: LogFrame[] = []
  let offset = 0
  while (buf.length - offset >= 8) {
    const type = buf[offset]
    const size = buf.readUInt32BE(offset + 4)
    if (buf.length - offset - 8 < size) break
    frames.push({ stream: STREAMS[type] ?? 'stdout', data: buf.subarray(offset + 8, offset + 8 + size) })
    offset += 8 + size
  }
  return { frames, rest: buf.subarray(offset) }
}

/** True when the bytes start like a multiplexed frame (stream 0-2, three zero bytes). */
export function looksMultiplexed(buf: Buffer): boolean {
  return buf.length >= 8 && buf[0] <= 2 && buf[1] === 0 && buf[2] === 0 && buf[3] === 0
}

/** The last `maxBytes` of `text`, cut at a line start when possible. */
export function tailBytes(text: string, maxBytes: number): string {
  const buf = Buffer.from(text, 'utf8')
  if (buf.length <= maxBytes) return text
  let cut = buf.subarray(buf.length - maxBytes).toString('utf8')
  // A cut through a multi-byte character leaves a replacement character at the start.
  cut = cut.replace(/^\uFFFD+/, '')
  const nl = cut.indexOf('\n')
  return nl >= 0 && nl < cut.length - 1 ? cut.slice(nl + 1) : cut
}

/** The tail of a watched container's stdout and stderr, interleaved as Docker wrote them. */
export async function containerLogs(container: WatchedContainer, opts: LogOptions = {}): Promise<string> {
  const id = container.id
  const tail = Math.max(1, Math.min(10_000, Math.floor(opts.tail ?? 200)))
  const maxBytes = opts.maxBytes ?? 8 * 1024
  const engine = { socketPath: opts.socketPath, timeoutMs: opts.timeoutMs }
  let tty = opts.tty
  if (tty === undefined) {
    const info = await engineGet<{ Config?: { Tty?: boolean } }>(`/containers/${encodeURIComponent(id)}/json`, engine)
    tty = !!info.Config?.Tty
  }
  const body = await engineRequest(`/containers/${encodeURIComponent(id)}/logs?stdout=1&stderr=1&tail=${tail}`, engine)
  let text: string
  if (tty || !looksMultiplexed(body)) {
    text = body.toString('utf8')
  } else {
    const { frames } = demuxDockerStream(body)
    if (opts.markStderr) {
      text = frames
        .map((f) => {
          const s = f.data.toString('utf8')
          return f.stream === 'stderr' ? s.replace(/^(?=.)/gm, 'stderr: ') : s
        })
        .join('')
    } else {
      text = Buffer.concat(frames.map((f) => f.data)).toString('utf8')
    }
  }
  return tailBytes(text, maxBytes)
}
