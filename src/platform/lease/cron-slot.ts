/**
 * Once per schedule for Motia's cron steps, however many controllers fire them. Every controller's
 * Motia fires each cron job; its cron adapter takes a Redis lock per firing, so usually one step
 * process runs, but the lock is released when the run ends and a controller that fires late (a
 * loaded host, a skewed clock) can take it again for the same slot. Gating the step on a duty's
 * lease instead would lose every slot whose lock a non-leader won.
 *
 * A slot is named by the job's next fire time after now: every process running for one slot sees
 * the same next fire time, and the first to write the slot's key runs it.
 */
import { CronTime } from 'cron'
import type { Redis } from 'ioredis'

const SLOT_PREFIX = 'sentinel:cron:slot:'

/** Whether this process is the first to run `job`'s current slot (and so must run it). */
export async function firstInCronSlot(
  redis: Redis,
  job: string,
  cron: string,
  now: Date = new Date(),
): Promise<boolean> {
  const next = new CronTime(cron).getNextDateFrom(now).toMillis()
  // Kept a while past the slot's end, so a very late runner of this slot still finds it.
  const ttlMs = Math.max(1000, next - now.getTime()) + 60_000
  return (await redis.set(`${SLOT_PREFIX}${job}:${next}`, String(process.pid), 'PX', ttlMs, 'NX')) === 'OK'
}
