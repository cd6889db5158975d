import type { CronConfig } from 'motia'
import type { CronStep } from '../../src/platform/events/steps'
import { Approvals } from '../../src/approve/approvals'
import { getConfig } from '../../src/platform/config/index'
import { IncidentStore } from '../../src/platform/store/incidents'
import { getRedis } from '../../src/platform/store/redis'
import { firstInCronSlot } from '../../src/platform/lease/cron-slot'

export const config = {
  type: 'cron',
  name: 'ExpireApprovals',
  description: 'Approvals past their time: operator-level ones go to the admins, admin-level ones escalate',
  cron: '* * * * *',
  emits: [],
  flows: ['sentinel'],
} satisfies CronConfig

export const handler: CronStep<typeof config> = async ({ logger }) => {
  const redis = getRedis()
  // Every controller's Motia fires this: the first to reach this slot runs it (cron-slot.ts).
  if (!(await firstInCronSlot(getRedis(), config.name, config.cron))) return
  const changed = await new Approvals(new IncidentStore(redis), redis).expireDue(
    Date.now(),
    getConfig().APPROVAL_TIMEOUT_SECONDS * 1000,
    'step:ExpireApprovals',
  )
  if (changed.length) logger.info('approvals expired', { incidents: changed.map((i) => i.id) })
}
