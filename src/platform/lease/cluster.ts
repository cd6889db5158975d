/**
 * The controllers sharing one Redis, as each sees the others: every controller writes its own
 * member record (id, host, port, start time, the duties it leads) with a TTL of three lease
 * renewals, so a controller that died drops out by itself. GET /api/cluster and /healthz read it.
 */
import os from 'node:os'
import type { Redis } from 'ioredis'
import { LEASE_PREFIX, leaseOf } from './index'

export const CLUSTER_MEMBERS_KEY = 'sentinel:cluster:members'
const memberKey = (holder: string) => `sentinel:cluster:member:${holder}`

export interface ClusterMember {
  id: string
  /** The id with this process's nonce, as it appears on leases. */
  holder: string
  host: string
  pid: number
  port: number
  startedAt: string
  /** Duty → fencing token, for the duties this controller leads. */
  leading: Record<string, number>
  renewedAt: string
}

export class ClusterRegistry {
  private readonly startedAt = new Date().toISOString()

  constructor(private readonly opts: { redis: Redis; id: string; holder: string; port: number; leaseMs: number }) {}

  async touch(leading: Record<string, number>): Promise<void> {
    const { redis, id, holder, port, leaseMs } = this.opts
    const me: ClusterMember = {
      id,
      holder,
      host: os.hostname(),
      pid: process.pid,
      port,
      startedAt: this.startedAt,
      leading,
      renewedAt: new Date().toISOString(),
    }
    await redis
      .multi()
      .set(memberKey(holder), JSON.stringify(me), 'PX', leaseMs * 3)
      .sadd(CLUSTER_MEMBERS_KEY, holder)
      .exec()
  }

  async leave(): Promise<void> {
    await this.opts.redis.multi().del(memberKey(this.opts.holder)).srem(CLUSTER_MEMBERS_KEY, this.opts.holder).exec()
  }
}

/** The live controllers, oldest first, and each known duty's leader; members whose record ran out are pruned. */
export async function clusterView(
  redis: Redis,
  duties?: string[],
): Promise<{ members: ClusterMember[]; duties: Array<{ duty: string; holder: string | null; token: number }> }> {
  const holders = await redis.smembers(CLUSTER_MEMBERS_KEY)
  const raws = holders.length ? await redis.mget(...holders.map(memberKey)) : []
  const members: ClusterMember[] = []
  const gone: string[] = []
  holders.forEach((h, i) => {
    try {
      if (raws[i]) members.push(JSON.parse(raws[i]!) as ClusterMember)
      else gone.push(h)
    } catch {
      gone.push(h)
    }
  })
  if (gone.length) await redis.srem(CLUSTER_MEMBERS_KEY, ...gone)
  members.sort((a, b) => a.startedAt.localeCompare(b.startedAt) || a.holder.localeCompare(b.holder))
  const named = duties ?? (await dutiesInRedis(redis))
  const leases = await Promise.all(named.map((d) => leaseOf(redis, d)))
  return {
    members,
    duties: named.map((duty, i) => ({
      duty,
      holder: leases[i].holder?.holder ?? null,
      token: leases[i].holder?.token ?? leases[i].newest,
    })),
  }
}

/** Every duty ever led on this Redis (its token key stays): a few keys, found by one SCAN. */
async function dutiesInRedis(redis: Redis): Promise<string[]> {
  const found = new Set<string>()
  let cursor = '0'
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${LEASE_PREFIX}*:token`, 'COUNT', 200)
    cursor = next
    for (const k of keys) found.add(k.slice(LEASE_PREFIX.length, -':token'.length))
  } while (cursor !== '0')
  return [...found].sort()
}
