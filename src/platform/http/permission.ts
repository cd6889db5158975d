/**
 * The permission an API step's middleware chain enforces, readable from outside the chain: the
 * main process refuses to serve an API step whose chain declares none (src/app/http/api-steps.ts).
 */
import type { Permission } from '../auth/roles'

const REQUIRED_PERMISSION = Symbol.for('sentinel.requiredPermission')

/** Marks a middleware chain as enforcing `permission`. */
export function declarePermission<T extends object>(chain: T, permission: Permission): T {
  Object.defineProperty(chain, REQUIRED_PERMISSION, { value: permission, enumerable: false })
  return chain
}

/** The permission a chain declares, if any. */
export function requiredPermission(chain: unknown): Permission | undefined {
  return chain && typeof chain === 'object'
    ? (chain as Record<symbol, Permission | undefined>)[REQUIRED_PERMISSION]
    : undefined
}
