/**
 * clean_sandbox moves files into a quarantine on the sandbox's own filesystem, so that a rollback
 * can rename them back; on that filesystem the cleaning frees nothing until the quarantine is
 * deleted. When a disk alert is still over its threshold after the cleaning and the incident's
 * quarantine is on the alert's filesystem (same st_dev), the incident's own quarantine is purged:
 * the undo is given up for the space, and the metric is then read again. A quarantine on another
 * filesystem costs the alert nothing: it is kept, and the rollback stays possible.
 */
import { stat } from 'node:fs/promises'
import path from 'node:path'
import { incidentQuarantine, purgeIncidentQuarantine, type IncidentPurge } from '../actions/clean-sandbox/index'
import type { AuditLog } from '../platform/store/audit'
import type { IncidentStore } from '../platform/store/incidents'
import { note } from '../platform/store/lifecycle'
import type { Incident } from '../platform/store/model'
import type { Remeasurement } from './remeasure'

export const NOT_REVERSIBLE_AFTER_PURGE =
  'the quarantined files were deleted to free the disk: nothing is left to roll back'

/** The path whose filesystem the disk alert measures: its mount point label, else its resource. */
export function alertMountpoint(incident: Incident): string {
  return incident.alert.labels.mountpoint ?? incident.alert.resource.name
}

/** Whether this incident qualifies: a disk still over after a clean_sandbox whose quarantine shares its filesystem. */
async function sharesFilesystem(incident: Incident, m: Remeasurement | undefined): Promise<{ mount: string } | null> {
  if (incident.alert.type !== 'disk' || m?.status !== 'over') return null
  if (!incident.actions.some((a) => a.actionId === 'clean_sandbox' && a.status === 'succeeded')) return null
  const mount = alertMountpoint(incident)
  if (!path.isAbsolute(mount)) return null
  const quarantine = await incidentQuarantine(incident.id).catch(() => null)
  if (quarantine?.status !== 'done') return null
  // The mount point as this host sees it: a path it cannot stat (node-exporter in a container
  // reporting /rootfs/...) is not known to be the same filesystem, so nothing is purged.
  const dev = await stat(mount)
    .then((s) => s.dev)
    .catch(() => undefined)
  return dev === quarantine.dev ? { mount } : null
}

/**
 * Purges the incident's quarantine when the disk is still over and shares its filesystem; records
 * why on the timeline and in the audit log. Null when it does not apply or the purge failed.
 */
export async function purgeQuarantineForDisk(
  incident: Incident,
  m: Remeasurement | undefined,
  deps: { store: IncidentStore; audit: AuditLog; actor: string },
): Promise<IncidentPurge | null> {
  const shared = await sharesFilesystem(incident, m)
  if (!shared) return null
  const why = `${m!.detail} after the cleaning, and the quarantine is on the same filesystem as ${shared.mount}, where moved files free nothing`
  let purge: IncidentPurge
  try {
    purge = await purgeIncidentQuarantine(incident.id)
  } catch (err) {
    await deps.store.update(incident.id, (i) =>
      note(i, {
        actor: deps.actor,
        summary: `purging the quarantine to free ${shared.mount} failed: ${(err as Error).message}`,
        data: { ok: false },
      }),
    )
    await deps.audit.append({
      kind: 'action.quarantine_purged',
      actor: deps.actor,
      incidentId: incident.id,
      resource: incident.resource.name,
      outcome: 'failed',
      data: { actionId: 'clean_sandbox', error: (err as Error).message },
    })
    return null
  }
  if (purge.performed !== 'purged') return null
  await deps.store.update(incident.id, (i) => {
    note(i, {
      actor: deps.actor,
      summary: `clean_sandbox's quarantine deleted (${purge.entries} entries, ${purge.bytes} bytes) to free ${shared.mount}: ${why}. The cleaning can no longer be undone.`,
      data: { quarantinePurged: purge, mountpoint: shared.mount, rollbackPossible: false },
    })
    // A rollback asked for later (POST /api/incidents/:id/rollback) is refused with the reason.
    const rec = i.actions.find((a) => a.actionId === 'clean_sandbox' && a.status === 'succeeded')
    if (rec) rec.result = { ...(rec.result ?? {}), reversible: false, notReversibleWhy: NOT_REVERSIBLE_AFTER_PURGE }
  })
  await deps.audit.append({
    kind: 'action.quarantine_purged',
    actor: deps.actor,
    incidentId: incident.id,
    resource: incident.resource.name,
    outcome: 'succeeded',
    data: { actionId: 'clean_sandbox', mountpoint: shared.mount, why, ...purge },
  })
  return purge
}
