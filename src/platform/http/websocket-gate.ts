/**
 * WebSocket upgrades never pass through Express, so the front door cannot see them: this gate
 * sits on the HTTP server's `upgrade` event instead. Sentinel's own dashboard uses Server-Sent
 * Events; the only WebSockets on the port are Motia's streams (logs, traces, state) for the
 * Workbench. Without WORKBENCH=true every upgrade is refused; with it, only an admin's.
 *
 * Motia's stream server parses each frame with a bare JSON.parse in an event listener: one text
 * frame that is not JSON threw out of the listener and ended the process. Frames are checked here
 * before Motia sees them; a bad one closes that socket (1007) and nothing else.
 */
import type { IncomingHttpHeaders, IncomingMessage, Server } from 'node:http'
import net from 'node:net'
import type { Duplex } from 'node:stream'
import type { CheckResult } from '../auth/index'
import { CLIENT_IP_HEADER } from './auth-context'
import { clientAddress } from '../auth/client-address'
import { addressMatcher } from '../config/addresses'
import { keyHeaders } from '../auth/presented-key'

export interface WebSocketGateOptions {
  workbench: boolean
  trustProxy: readonly string[]
  authenticate: (headers: IncomingHttpHeaders) => Promise<CheckResult>
  log: (level: 'info' | 'warn', msg: string, data?: Record<string, unknown>) => void
}

/** The part of a `ws` WebSocket the gate needs: its events go out through `emit`, which the gate wraps. */
export interface WebSocketLike {
  emit(event: string | symbol, ...args: unknown[]): boolean
  close(code?: number, reason?: string): void
}

/** A `ws` WebSocketServer's `connection` listener (called with the server as `this`). */
export type ConnectionListener = (socket: WebSocketLike, req: IncomingMessage) => void

/** The part of a `ws` WebSocketServer the gate needs. */
export interface SocketServerLike {
  listeners(event: 'connection'): ConnectionListener[]
  removeAllListeners(event: 'connection'): unknown
  on(event: 'connection', listener: ConnectionListener): unknown
}

const MAX_FRAME_BYTES = 64 * 1024

function answer(socket: Duplex, status: number, reason: string, headers: Record<string, string> = {}): void {
  const body = JSON.stringify({
    error: status === 401 ? 'unauthorized' : status === 403 ? 'forbidden' : 'not_found',
    message: reason,
  })
  const lines = [
    `HTTP/1.1 ${status} ${status === 401 ? 'Unauthorized' : status === 403 ? 'Forbidden' : status === 429 ? 'Too Many Requests' : 'Not Found'}`,
    'Connection: close',
    'Content-Type: application/json',
    `Content-Length: ${Buffer.byteLength(body)}`,
  ]
  for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`)
  socket.end(`${lines.join('\r\n')}\r\n\r\n${body}`)
}

/** A frame Motia's stream server can take: a JSON object with a string `type`, of sane size. */
export function isAcceptableFrame(payload: unknown): boolean {
  const buf = Buffer.isBuffer(payload)
    ? payload
    : Array.isArray(payload)
      ? Buffer.concat(payload as Buffer[])
      : payload instanceof ArrayBuffer
        ? Buffer.from(payload)
        : undefined
  if (!buf || buf.length > MAX_FRAME_BYTES) return false
  try {
    const msg = JSON.parse(buf.toString('utf8'))
    return (
      !!msg &&
      typeof msg === 'object' &&
      typeof msg.type === 'string' &&
      (msg.data === undefined || (typeof msg.data === 'object' && msg.data !== null))
    )
  } catch {
    return false
  }
}

export function guardWebSockets(
  server: Server,
  socketServer: SocketServerLike | undefined,
  opts: WebSocketGateOptions,
): void {
  const trusted = addressMatcher(opts.trustProxy)
  const downstream = server.listeners('upgrade') as ((req: IncomingMessage, socket: Duplex, head: Buffer) => void)[]
  server.removeAllListeners('upgrade')
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy())
    void (async () => {
      if (!opts.workbench)
        return answer(socket, 404, 'no WebSocket is served here (the Workbench is off: WORKBENCH=false)')
      delete req.headers[CLIENT_IP_HEADER]
      req.headers[CLIENT_IP_HEADER] = clientAddress(req.socket.remoteAddress, req.headers['x-forwarded-for'], trusted)
      const auth = await opts.authenticate(keyHeaders(req.headers))
      if (auth.status !== 200) {
        return answer(socket, auth.status, auth.message ?? 'an admin key is needed', {
          ...(auth.status === 401
            ? { 'WWW-Authenticate': 'Basic realm="Sentinel Workbench (admin key as the password)"' }
            : {}),
          ...(auth.retryAfter ? { 'Retry-After': String(auth.retryAfter) } : {}),
        })
      }
      if (auth.role !== 'admin') return answer(socket, 403, "Motia's streams need an admin key")
      delete req.headers.authorization
      delete req.headers['x-api-key']
      for (const listener of downstream) listener.call(server, req, socket, head)
    })().catch((err) => {
      opts.log('warn', 'WebSocket upgrade failed', { error: (err as Error).message })
      socket.destroy()
    })
  })

  if (!socketServer) return
  const handlers = socketServer.listeners('connection')
  socketServer.removeAllListeners('connection')
  socketServer.on('connection', (socket: WebSocketLike, req: IncomingMessage) => {
    // Frames are checked before any listener Motia adds sees them.
    const emit = socket.emit.bind(socket)
    socket.emit = (event: string | symbol, ...args: unknown[]) => {
      if (event === 'message' && !isAcceptableFrame(args[0])) {
        opts.log('info', 'closed a WebSocket that sent a frame Motia cannot read')
        socket.close(1007, 'frames must be JSON objects with a type')
        return false
      }
      return emit(event, ...args)
    }
    for (const handler of handlers) handler.call(socketServer, socket, req)
  })
}

/**
 * Makes every listen on `port` bind to `host`. Motia's Workbench starts Vite's hot-reload
 * WebSocket on PORT + 21678 with no host (every interface), inside code Sentinel cannot configure.
 */
export function bindPortToHost(port: number, host: string): void {
  const proto = net.Server.prototype as unknown as {
    listen: (...args: unknown[]) => unknown
    __sentinelBound?: Map<number, string>
  }
  if (!proto.__sentinelBound) {
    const bound = new Map<number, string>()
    proto.__sentinelBound = bound
    const listen = proto.listen
    proto.listen = function (this: net.Server, ...args: unknown[]) {
      const first = args[0]
      if (typeof first === 'number' && bound.has(first)) {
        const rest = args.slice(1).filter((a) => typeof a !== 'string')
        return listen.call(this, first, bound.get(first), ...rest)
      }
      if (
        first &&
        typeof first === 'object' &&
        typeof (first as net.ListenOptions).port === 'number' &&
        bound.has((first as net.ListenOptions).port!)
      ) {
        return listen.call(
          this,
          { ...(first as net.ListenOptions), host: bound.get((first as net.ListenOptions).port!) },
          ...args.slice(1),
        )
      }
      return listen.apply(this, args)
    }
  }
  proto.__sentinelBound.set(port, host)
}
