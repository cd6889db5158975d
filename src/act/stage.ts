/**
 * The ExecuteRemediation step's work, kept here so the step file is a thin wrapper and the logic
 * is testable without Motia: the decided (or approved) fix runs once, through remediate().
 */
import { getConfig } from '../platform/config/index'
import { stores } from '../platform/store/stores'
import { remediationSlots } from '../decide/deps'
import { remediate, remediationLeaseMs, type RemediateOutcome } from './remediate'

export async function executeStage(incidentId: string, actor: string): Promise<RemediateOutcome> {
  const { store, audit, executions } = stores()
  const cfg = getConfig()
  return remediate(incidentId, {
    store,
    executions,
    audit,
    actor,
    leaseMs: remediationLeaseMs(cfg),
    slots: remediationSlots(cfg),
  })
}
