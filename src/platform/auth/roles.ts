/**
 * Roles and what each may do. The roles are ordered (admin > operator > viewer) and every
 * permission names the lowest role that holds it, so a higher role always holds at least as much.
 */
import type { RiskLevel } from '../store/model'

export const ROLES = ['viewer', 'operator', 'admin'] as const
export type Role = (typeof ROLES)[number]

export const PERMISSIONS = [
  'read',
  'decide:low',
  'decide:medium',
  'decide:high',
  'rollback',
  'alert:test',
  'chaos',
  'audit',
  'acknowledge',
  'silence',
  'replay',
] as const
export type Permission = (typeof PERMISSIONS)[number]

/** The lowest role holding each permission. */
export const MINIMUM_ROLE: Readonly<Record<Permission, Role>> = Object.freeze({
  read: 'viewer',
  // Approving or rejecting: low and medium risk are the operator's; high risk only the admin's.
  'decide:low': 'operator',
  'decide:medium': 'operator',
  'decide:high': 'admin',
  rollback: 'admin',
  'alert:test': 'admin',
  chaos: 'admin',
  audit: 'admin',
  // On call: taking an incident (it stops re-paging) and muting pages with a silence.
  acknowledge: 'operator',
  silence: 'operator',
  // Running archived incidents through another policy reads the whole history and costs CPU.
  replay: 'admin',
})

const rank = (r: Role) => ROLES.indexOf(r)

export const isRole = (v: unknown): v is Role => typeof v === 'string' && (ROLES as readonly string[]).includes(v)
export const isPermission = (v: unknown): v is Permission =>
  typeof v === 'string' && (PERMISSIONS as readonly string[]).includes(v)

/** True when `role` holds the permission `needed`. Unknown roles or permissions hold nothing. */
export function authorize(role: Role | undefined | null, needed: Permission): boolean {
  if (!isRole(role) || !isPermission(needed)) return false
  return rank(role) >= rank(MINIMUM_ROLE[needed])
}

/** Every permission of a role, for display and tests. */
export const permissionsOf = (role: Role): Permission[] => PERMISSIONS.filter((p) => authorize(role, p))

/**
 * The permission needed to approve or reject a fix of this risk. When the decision names a stricter
 * approver (an admin for a medium fix, say), that wins; an unknown risk counts as high.
 */
export function decidePermission(risk: RiskLevel | undefined, approverRole?: 'operator' | 'admin'): Permission {
  const byRisk: Permission = risk === 'low' ? 'decide:low' : risk === 'medium' ? 'decide:medium' : 'decide:high'
  if (approverRole === 'admin') return 'decide:high'
  return byRisk
}

/** "an operator or an admin" / "an admin": who may do something, for messages. */
export function whoMay(needed: Permission): string {
  const min = MINIMUM_ROLE[needed]
  return min === 'admin' ? 'an admin' : min === 'operator' ? 'an operator or an admin' : 'any role'
}
