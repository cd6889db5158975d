/**
 * Append-only audit log. Each event goes to a Redis stream (for reading back quickly) and to a
 * JSON-lines file under DATA_DIR (so it survives the loss of Redis's data). Lines are written
 * with a single append each, which Linux keeps whole between processes appending to one file.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import type { Redis } from 'ioredis'
import { getConfig } from '../config/index'
import { publishToStream } from '../stream/publish'
import { metricsRecorder, nodeLabel } from '../telemetry/metrics'
import { getRedis } from './redis'

export interface AuditEvent {
  at: string
  /** What happened: incident.opened, policy.decided, action.executed, ... */
  kind: string
  actor: string
  incidentId?: string
  resource?: string
  /** The host the resource is on (the fleet's node), where one is known. */
  node?: string
  outcome?: string
  data?: Record<string, unknown>
}

const STREAM = 'sentinel:audit'
const STREAM_MAXLEN = 100_000

export function auditFilePath(dataDir = getConfig().DATA_DIR, root = getConfig().projectRoot): string {
  return path.resolve(root, dataDir, 'audit', 'audit.jsonl')
}

export class AuditLog {
  constructor(
    private readonly redis: Redis = getRedis(),
    private readonly file: string = auditFilePath(),
  ) {
    const dir = path.dirname(this.file)
    if (!existsSync(dir)) mkdirSync(dir, { recursive: true })
  }

  async append(event: Omit<AuditEvent, 'at'> & { at?: string }): Promise<AuditEvent> {
    const full: AuditEvent = { at: event.at ?? new Date().toISOString(), ...event }
    const line = JSON.stringify(full)
    appendFileSync(this.file, line + '\n')
    try {
      await this.redis.xadd(STREAM, 'MAXLEN', '~', String(STREAM_MAXLEN), '*', 'event', line)
      await publishToStream(this.redis, 'audit', full)
      const actionId = typeof full.data?.actionId === 'string' ? full.data.actionId : undefined
      const labels = {
        action: actionId ?? '',
        result: full.outcome ?? 'unknown',
        node: nodeLabel(full.node, getConfig().NODE_NAME),
      }
      if (actionId && full.kind === 'action.executed') await metricsRecorder(this.redis).action(labels)
      if (actionId && full.kind === 'action.rolled_back') await metricsRecorder(this.redis).rollback(labels)
    } catch {
      // The file copy is the durable one; Redis being briefly away must not stop the action.
    }
    return full
  }

  /** Newest first, from Redis; falls back to the file when Redis has lost the stream. */
  async read(limit = 100, incidentId?: string): Promise<AuditEvent[]> {
    let events: AuditEvent[] = []
    try {
      const rows = await this.redis.xrevrange(STREAM, '+', '-', 'COUNT', incidentId ? limit * 20 : limit)
      events = rows.map(([, fields]) => JSON.parse(fields[1]) as AuditEvent)
    } catch {
      events = []
    }
    if (events.length === 0) events = this.readFile().reverse()
    if (incidentId) events = events.filter((e) => e.incidentId === incidentId)
    return events.slice(0, limit)
  }

  readFile(): AuditEvent[] {
    if (!existsSync(this.file)) return []
    return readFileSync(this.file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as AuditEvent)
  }
}
