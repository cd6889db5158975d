/**
 * Human approvals. An incident whose decision needs a person carries a pending approval with the
 * lowest role that may decide and an expiry. Deciding is a compare-and-set on the incident: the
 * first decision wins, a second gets a conflict and changes nothing.
 */
import type { Redis } from 'ioredis'
import type { IncidentStore } from '../platform/store/incidents'
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
    const incident = await this.store.update(incidentId, (i) => {
      if (i.approval?.status === 'pending') return false
      i.status = 'awaiting_approval'
      i.approval = {
        status: 'pending',
        approverRole: decision.approverRole ?? 'admin',
        risk: decision.risk,
        actionId: decision.actionId,
        params: decision.params,
        requestedAt: new Date(now).toISOString(),
        expiresAt: new Date(now + ttlMs).toISOString(),
        ...(command ? { command } : {}),
      }
      i.timeline.push({
        stage: 'approval_requested',
        at: new Date(now).toISOString(),
        actor,
        summary: `${decision.actionId ?? 'a decision'} needs approval by ${i.approval.approverRole === 'admin' ? 'an admin' : 'an operator or an admin'}`,
        data: { approverRole: i.approval.approverRole, risk: decision.risk, expiresAt: i.approval.expiresAt },
      })
    })
    if (incident.approval?.status === 'pending') {
      await this.redis.zadd(PENDING, Date.parse(incident.approval.expiresAt), incidentId)
    }
    return incident
  }

  async pending(): Promise<PendingApproval[]> {
    const ids = await this.redis.zrange(PENDING, 0, -1)
    const out: PendingApproval[] = []
    for (const id of ids) {
      const i = await this.store.get(id)
      if (!i || i.approval?.status !== 'pending') {
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
    input: { decision: 'approve' | 'reject'; by: string; role: Role; reason?: string },
  ): Promise<{ kind: 'ok'; incident: Incident } | { kind: 'not_found' } | { kind: 'not_pending'; status: string } | { kind: 'forbidden'; needed: string }> {
    if (!(await this.store.get(incidentId))) return { kind: 'not_found' }
    // Checked on the version written, so an expiry or an escalation to the admins in between counts.
    let refused: { kind: 'not_pending'; status: string } | { kind: 'forbidden'; needed: string } | null = null
    const incident = await this.store.update(incidentId, (i) => {
      if (i.approval?.status !== 'pending') refused = { kind: 'not_pending', status: i.approval?.status ?? i.status }
      // Past its time the request belongs to expireDue (the admins, or nobody), whose next run has
      // not come yet; the executor would refuse a fix approved late.
      else if (Date.now() > Date.parse(i.approval.expiresAt)) refused = { kind: 'not_pending', status: 'expired' }
      else if (!mayApprove(input.role, i.approval.approverRole)) refused = { kind: 'forbidden', needed: i.approval.approverRole }
      if (refused || !i.approval) return false
      const now = new Date().toISOString()
      i.approval.status = input.decision === 'approve' ? 'approved' : 'rejected'
      i.approval.decidedBy = input.by
      i.approval.decidedByRole = input.role
      i.approval.decidedAt = now
      if (input.reason) i.approval.reason = input.reason
      i.timeline.push({
        stage: input.decision === 'approve' ? 'approved' : 'rejected',
        at: now,
        actor: input.by,
        summary: input.decision === 'approve' ? `approved by ${input.by}` : `rejected by ${input.by}${input.reason ? `: ${input.reason}` : ''}`,
        data: { role: input.role, ...(input.reason ? { reason: input.reason } : {}) },
      })
      if (input.decision === 'approve') {
        i.status = 'remediating'
        // The approved action becomes the decision the executor runs.
        if (i.decision) i.decision = { ...i.decision, route: 'auto', reasons: [...i.decision.reasons, `approved by ${input.by} (${input.role})`] }
      } else {
        i.status = 'escalated'
      }
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
      if (!current || current.approval?.status !== 'pending') {
        await this.redis.zrem(PENDING, id)
        continue
      }
      const updated = await this.store.update(id, (i) => {
        if (i.approval?.status !== 'pending' || Date.parse(i.approval.expiresAt) > nowMs) return false
        const at = new Date(nowMs).toISOString()
        if (i.approval.approverRole === 'operator') {
          i.approval.approverRole = 'admin'
          i.approval.expiresAt = new Date(nowMs + ttlMs).toISOString()
          i.timeline.push({ stage: 'escalated', at, actor, summary: 'approval expired: escalated to the admins', data: { approverRole: 'admin', expiresAt: i.approval.expiresAt } })
        } else {
          i.approval.status = 'expired'
          i.status = 'escalated'
          i.timeline.push({ stage: 'escalated', at, actor, summary: 'approval expired with no admin decision; left for an admin', data: { approverRole: 'admin' } })
        }
      })
      if (updated.approval?.status === 'pending') await this.redis.zadd(PENDING, Date.parse(updated.approval.expiresAt), id)
      else await this.redis.zrem(PENDING, id)
      changed.push(updated)
    }
    return changed
  }
}
