/** Incidents and notifications for the receivers' tests (src/notify/receivers/*.test.ts). */
import { randomBytes } from 'node:crypto'
import type { Redis } from 'ioredis'
import { secretReader, type SecretReader } from '../../src/notify/secret'
import type { Notification, NotificationKind } from '../../src/notify/types'
import type { Incident } from '../../src/platform/store/model'

export function incidentFixture(over: Partial<Incident> = {}): Incident {
  const id = over.id ?? `inc-${randomBytes(5).toString('hex')}`
  const name = over.resource?.name ?? 'web-1'
  const opened = new Date(Date.now() - 60_000).toISOString()
  const resource = over.resource ?? { kind: 'container' as const, id: `cid-${id}`, name }
  return {
    id,
    fingerprint: `fp-${id}`,
    type: 'container_down',
    severity: 'critical',
    status: 'escalated',
    title: `container ${name} is down`,
    resource,
    alert: {
      fingerprint: `fp-${id}`,
      type: over.type ?? 'container_down',
      severity: over.severity ?? 'critical',
      metric: 'container_running',
      value: 0,
      threshold: 1,
      resource,
      labels: { host: 'node-a', job: 'docker' },
      source: 'docker-events',
      at: opened,
      details: { exitCode: 137 },
    },
    actions: [],
    timeline: [{ stage: 'escalated', at: opened, actor: 'step:Verify', summary: 'the restart did not hold' }],
    openedAt: opened,
    updatedAt: opened,
    version: 3,
    ...over,
  }
}

let seq = 0
export function notificationFor(
  incident: Incident,
  kind: NotificationKind,
  over: Partial<Notification> = {},
): Notification {
  return {
    key: `${incident.id}:${kind}:r:${++seq}`,
    kind,
    level: 1,
    incident,
    at: new Date().toISOString(),
    ...over,
  }
}

/** A secret reader over the given variables only. */
export const readerOf = (env: Record<string, string>): SecretReader => secretReader(env)

/** For receivers that never touch Redis: any use fails loudly. */
export const noRedis = new Proxy(
  {},
  {
    get(_t, prop) {
      throw new Error(`this receiver should not use Redis (it called ${String(prop)})`)
    },
  },
) as Redis

export const never = () => new AbortController().signal

/** The DeliveryError a promise rejects with (fails the test when it resolves). */
export async function rejection<T = Error>(p: Promise<unknown>): Promise<T> {
  try {
    await p
  } catch (err) {
    return err as T
  }
  throw new Error('expected a rejection')
}
