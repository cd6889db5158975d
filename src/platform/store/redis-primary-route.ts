/**
 * A local socket that always leads to the Redis primary Redis Sentinel names now.
 *
 * Why: Motia's node-redis client (state, cron locks, streams) takes one fixed host and port
 * (`node_modules/motia/dist/redis/connection.mjs`) and has no Sentinel support in this version, so
 * after a failover it would keep reconnecting to the dead primary for ever. The launcher points
 * it at this socket instead (the pattern of a TCP proxy in front of Redis Sentinel): every new
 * connection is forwarded to the primary of the moment, and when the Sentinels name another
 * primary every forwarded connection is closed, so the client reconnects and lands on the new one.
 * BullMQ's ioredis connection needs none of this: it is given the Sentinels themselves.
 *
 * The socket is a Unix socket in the controller's DATA_DIR, mode 0600: only this controller's user
 * reaches it, nothing listens on a network port, and Redis's own AUTH still applies through it.
 */
import { chmodSync, rmSync } from 'node:fs'
import net from 'node:net'

export interface RedisAddress {
  host: string
  port: number
}

export interface RedisPrimaryRouteOptions {
  /** Where to listen (a Unix socket path; a stale file there is removed: DATA_DIR is this instance's). */
  socketPath: string
  /** Asks the Sentinels where the primary is (currentRedisPrimary); throws when none answers. */
  locate: () => Promise<RedisAddress>
  /** How often the Sentinels are asked (ms). A failover takes seconds; one second adds little. */
  pollMs?: number
  log?: (level: 'info' | 'warn', message: string, fields?: Record<string, unknown>) => void
}

const sameAddress = (a: RedisAddress, b: RedisAddress) => a.host === b.host && a.port === b.port

export class RedisPrimaryRoute {
  private server: net.Server | null = null
  private poll: NodeJS.Timeout | null = null
  private current: RedisAddress | null = null
  private readonly pairs = new Set<{ client: net.Socket; upstream: net.Socket }>()
  private lastLocateWarning = 0
  private polling = false
  /** How many times the primary changed since start (a test and /healthz read it). */
  switches = 0

  constructor(private readonly options: RedisPrimaryRouteOptions) {}

  /** Where clients connect. */
  get socketPath(): string {
    return this.options.socketPath
  }

  /** The primary connections are forwarded to now. */
  get primary(): RedisAddress | null {
    return this.current ? { ...this.current } : null
  }

  /** Finds the primary (throws when no Sentinel names one: a start must fail then) and listens. */
  async start(): Promise<void> {
    this.current = await this.options.locate()
    rmSync(this.options.socketPath, { force: true })
    const server = net.createServer((client) => this.forward(client))
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(this.options.socketPath, () => {
        server.off('error', reject)
        resolve()
      })
    })
    chmodSync(this.options.socketPath, 0o600)
    this.server = server
    this.poll = setInterval(() => void this.check(), this.options.pollMs ?? 1000)
    this.poll.unref()
  }

  /** Asks the Sentinels again; on a new primary, closes every forwarded connection. */
  async check(): Promise<void> {
    if (this.polling) return
    this.polling = true
    try {
      const found = await this.options.locate()
      if (this.current && sameAddress(found, this.current)) return
      const from = this.current
      this.current = found
      this.switches++
      this.options.log?.('warn', 'Redis primary moved: reconnecting Motia’s connections', {
        from: from ? `${from.host}:${from.port}` : null,
        to: `${found.host}:${found.port}`,
        connections: this.pairs.size,
      })
      this.closeAll()
    } catch (err) {
      // Every Sentinel unreachable: keep the last primary (it may well be up) and say so, rarely.
      if (Date.now() - this.lastLocateWarning > 10_000) {
        this.lastLocateWarning = Date.now()
        this.options.log?.('warn', 'no Sentinel named the Redis primary; keeping the last one', {
          error: (err as Error).message,
        })
      }
    } finally {
      this.polling = false
    }
  }

  private forward(client: net.Socket): void {
    const target = this.current
    if (!target) {
      client.destroy()
      return
    }
    const upstream = net.connect({ host: target.host, port: target.port })
    const pair = { client, upstream }
    this.pairs.add(pair)
    // Either side failing ends both: the client sees a closed connection and reconnects, which is
    // how it reaches a new primary (a half-open pair would leave it waiting on a dead server).
    const end = () => {
      if (!this.pairs.delete(pair)) return
      client.destroy()
      upstream.destroy()
    }
    for (const socket of [client, upstream]) {
      socket.setNoDelay(true)
      socket.on('error', end)
      socket.on('close', end)
    }
    client.pipe(upstream)
    upstream.pipe(client)
    // The primary unreachable at connect: ask the Sentinels now rather than at the next poll.
    upstream.once('error', () => void this.check())
  }

  private closeAll(): void {
    for (const pair of [...this.pairs]) {
      this.pairs.delete(pair)
      pair.client.destroy()
      pair.upstream.destroy()
    }
  }

  async stop(): Promise<void> {
    if (this.poll) clearInterval(this.poll)
    this.poll = null
    this.closeAll()
    const server = this.server
    this.server = null
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()))
    rmSync(this.options.socketPath, { force: true })
  }
}
