/**
 * A raw Server-Sent Events client over node:http, for tests and the benchmark: it parses
 * `id:`/`event:`/`data:` lines and comments itself, so what is checked is the wire format.
 */
import http from 'node:http'

export interface SseEvent {
  id: string | null
  event: string
  data: string
  /** performance.timeOrigin + performance.now() when the frame was complete. */
  receivedAt: number
}

export interface SseConnection {
  status: number
  headers: http.IncomingHttpHeaders
  /** The body when the server did not answer with a stream (401...). */
  body: string
  events: SseEvent[]
  comments: string[]
  ended: boolean
  res: http.IncomingMessage
  onEvent?: (e: SseEvent) => void
  /** Stops reading: the socket is paused, so the server's writes pile up. */
  pause(): void
  close(): void
  waitFor(pred: (c: SseConnection) => boolean, timeoutMs?: number, what?: string): Promise<void>
  ended$: Promise<void>
}

export function connectSse(
  url: string,
  headers: Record<string, string> = {},
  agent?: http.Agent,
): Promise<SseConnection> {
  return new Promise((resolve, reject) => {
    const req = http.get(
      url,
      { headers: { Accept: 'text/event-stream', ...headers }, agent: agent ?? false },
      (res) => {
        let resolveEnded!: () => void
        const ended$ = new Promise<void>((r) => (resolveEnded = r))
        const conn: SseConnection = {
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: '',
          events: [],
          comments: [],
          ended: false,
          res,
          pause() {
            res.pause()
            res.socket.pause()
          },
          close() {
            req.destroy()
          },
          waitFor(pred, timeoutMs = 10_000, what = 'condition') {
            return new Promise((ok, fail) => {
              const started = Date.now()
              const tick = () => {
                if (pred(conn)) return ok()
                if (Date.now() - started > timeoutMs)
                  return fail(
                    new Error(`timed out waiting for ${what}: ${conn.events.length} events, ended=${conn.ended}`),
                  )
                setTimeout(tick, 10)
              }
              tick()
            })
          },
          ended$,
        }
        const isStream = String(res.headers['content-type'] ?? '').startsWith('text/event-stream')
        let pending = ''
        let cur: { id: string | null; event: string; data: string[] } = { id: null, event: 'message', data: [] }
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => {
          if (!isStream) {
            conn.body += chunk
            return
          }
          pending += chunk
          let nl: number
          while ((nl = pending.indexOf('\n')) >= 0) {
            const line = pending.slice(0, nl).replace(/\r$/, '')
            pending = pending.slice(nl + 1)
            if (line === '') {
              if (cur.data.length > 0 || cur.id !== null || cur.event !== 'message') {
                const ev: SseEvent = {
                  id: cur.id,
                  event: cur.event,
                  data: cur.data.join('\n'),
                  receivedAt: performance.timeOrigin + performance.now(),
                }
                conn.events.push(ev)
                conn.onEvent?.(ev)
              }
              cur = { id: null, event: 'message', data: [] }
              continue
            }
            if (line.startsWith(':')) {
              conn.comments.push(line.slice(1).trim())
              continue
            }
            const colon = line.indexOf(':')
            const field = colon < 0 ? line : line.slice(0, colon)
            const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '')
            if (field === 'id') cur.id = value
            else if (field === 'event') cur.event = value
            else if (field === 'data') cur.data.push(value)
          }
        })
        const finish = () => {
          conn.ended = true
          resolveEnded()
        }
        res.on('end', finish)
        res.on('close', finish)
        res.on('error', finish)
        resolve(conn)
      },
    )
    req.on('error', reject)
  })
}
