/**
 * Human approvals. An incident whose decision needs a person carries a pending approval with the
 * lowest role that may decide and an expiry. Deciding is a compare-and-set on the incident: the
 * first decision wins, a second gets a conflict and changes nothing.
 */
import type { Redis } from 'ioredis'
import type { IncidentStore } from '../platform/store/incidents'
import {
  expireApproval,
  raiseApprovalToAdmins,
  recordApprovalDecision,
  requestApproval,
} from '../platform/store/lifecycle'
import type { Approval, Decision, Incident } from '../platform/store/model'
import { getRedis } from '../platform/store/redis'
import { processCommand } from '../actions/kill-process/index'

const PENDING = 'sentinel:approvals:pending'

export type Role = 'viewer' | 'operator' | 'admin'
const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 }

export function mayApprove(role: Role, approverRole: Approval['approverRole']): boolean {
  return RANK[role] >= RANK[approverRole]
}

export interface PendingApproval {
  incidentId: string
  title: string
  resource: string
  risk: Approval['risk']
  approverRole: Approval['approverRole']
  proposedAction: string | null
  params: Record<string, unknown>
  /** kill_process: the command line of the process to end (see Approval.command). */
  command?: string
  reasons: string[]
  requestedAt: string
  expiresAt: string
}

export class Approvals {
  constructor(
    private readonly store: IncidentStore,
    private readonly redis: Redis = getRedis(),
  ) {}

  /** Records a pending approval for the incident's decision (idempotent). */
  async request(incidentId: string, decision: Decision, ttlMs: number, actor: string): Promise<Incident> {
    const now = Date.now()
    // A pid alone tells the approver nothing: show what that process runs.
    const pid = decision.actionId === 'kill_process' ? decision.params.pid : undefined
    const command = typeof pid === 'number' ? await processCommand(pid) : undefined
    const approval: Approval = {
      status: 'pending',
      approverRole: decision.approverRole ?? 'admin',
      risk: decision.risk,
      actionId: decision.actionId,
      params: decision.params,
      requestedAt: new Date(now).toISOString(),
      expiresAt: new Date(now + ttlMs).toISOString(),
      ...(command ? { command } : {}),
    }
    const incident = await this.store.update(incidentId, (i) => requestApproval(i, approval, actor))
    if (incident.approval?.status === 'pending' && incident.status === 'awaiting_approval') {
      await this.redis.zadd(PENDING, Date.parse(incident.approval.expiresAt), incidentId)
    }
    return incident
  }

  async pending(): Promise<PendingApproval[]> {
    const ids = await this.redis.zrange(PENDING, 0, -1)
    const out: PendingApproval[] = []
    for (const id of ids) {
      const i = await this.store.get(id)
      // A pending request on an incident that ended meanwhile (its alert cleared, a person closed it) asks nobody.
      if (!i || i.approval?.status !== 'pending' || i.status !== 'awaiting_approval') {
        await this.redis.zrem(PENDING, id)
        continue
      }
      out.push({
        incidentId: i.id,
        title: i.title,
        resource: i.resource.name,
        risk: i.approval.risk,
        approverRole: i.approval.approverRole,
        proposedAction: i.approval.actionId,
        params: i.approval.params,
        ...(i.approval.command ? { command: i.approval.command } : {}),
        reasons: i.decision?.reasons ?? [],
        requestedAt: i.approval.requestedAt,
        expiresAt: i.approval.expiresAt,
      })
    }
    return out
  }

  /**
   * Records a person's decision, with the decider's role (the executor checks it). Returns
   * 'not_found', 'not_pending' (decided already, or past its expiry: 409), 'forbidden' (the role
   * is too low for this risk) or the updated incident.
   */
  async decide(
    incidentId: string,
    input: { decision: 'approve' | 'reject'; by: string; role: Role; reason?: string; comment?: string },
  ): Promise<
    | { kind: 'ok'; incident: Incident }
    | { kind: 'not_found' }
    | { kind: 'not_pending'; status: string }
    | { kind: 'forbidden'; needed: string }
  > {
    if (!(await this.store.get(incidentId))) return { kind: 'not_found' }
    // Checked on the version written, so an expiry or an escalation to the admins in between counts.
    let refused: { kind: 'not_pending'; status: string } | { kind: 'forbidden'; needed: string } | null = null
    const incident = await this.store.update(incidentId, (i) => {
      if (i.approval?.status !== 'pending') refused = { kind: 'not_pending', status: i.approval?.status ?? i.status }
      // Ended while the request waited (its alert cleared, a person closed it): nothing left to approve.
      else if (i.status !== 'awaiting_approval') refused = { kind: 'not_pending', status: i.status }
      // Past its time the request belongs to expireDue (the admins, or nobody), whose next run has
      // not come yet; the executor would refuse a fix approved late.
      else if (Date.now() > Date.parse(i.approval.expiresAt)) refused = { kind: 'not_pending', status: 'expired' }
      else if (!mayApprove(input.role, i.approval.approverRole))
        refused = { kind: 'forbidden', needed: i.approval.approverRole }
      if (refused || !i.approval) return false
      // Approved: remediating, the approved action becoming the decision the executor runs; rejected: escalated.
      return recordApprovalDecision(i, input)
    })
    if (refused) return refused
    await this.redis.zrem(PENDING, incidentId)
    return { kind: 'ok', incident }
  }

  /**
   * Approvals past their time escalate: an operator-level request goes to the admins (with a new
   * expiry); an admin-level one leaves the incident escalated.
   */
  async expireDue(nowMs: number, ttlMs: number, actor: string): Promise<Incident[]> {
    const due = await this.redis.zrangebyscore(PENDING, '-inf', nowMs)
    const changed: Incident[] = []
    for (const id of due) {
      const current = await this.store.get(id)
      if (!current || current.approval?.status !== 'pending' || current.status !== 'awaiting_approval') {
        await this.redis.zrem(PENDING, id)
        continue
      }
      const updated = await this.store.update(id, (i) => {
        if (
          i.approval?.status !== 'pending' ||
          i.status !== 'awaiting_approval' ||
          Date.parse(i.approval.expiresAt) > nowMs
        )
          return false
        const at = new Date(nowMs).toISOString()
        if (i.approval.approverRole === 'operator')
          return raiseApprovalToAdmins(i, { expiresAt: new Date(nowMs + ttlMs).toISOString(), actor, at })
        return expireApproval(i, { actor, at })
      })
      if (updated.approval?.status === 'pending' && updated.status === 'awaiting_approval')
        await this.redis.zadd(PENDING, Date.parse(updated.approval.expiresAt), id)
      else await this.redis.zrem(PENDING, id)
      changed.push(updated)
    }
    return changed
  }
}
