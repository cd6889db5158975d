/**
 * The action catalog as the analysers see it: ids, descriptions, risks and parameter JSON
 * schemas (what the model is shown), with a validator per action for what it proposes.
 */
import { z } from 'zod'
import type { RiskLevel } from '../../platform/store/model'

export interface CatalogEntry {
  id: string
  description: string
  risk: RiskLevel
  /** JSON schema of the action's params (from zod with `z.toJSONSchema`). */
  paramsSchema: Record<string, unknown>
}

/** Anything with an id, description, risk and a zod params schema: an ActionDefinition. */
export interface ZodAction {
  id: string
  description: string
  risk: RiskLevel
  params: z.ZodType
}

export function catalogEntryFromAction(action: ZodAction): CatalogEntry {
  const schema = z.toJSONSchema(action.params, { unrepresentable: 'any' }) as Record<string, unknown>
  delete schema.$schema
  return { id: action.id, description: action.description, risk: action.risk, paramsSchema: schema }
}

export function catalogFromActions(actions: Iterable<ZodAction> | Record<string, ZodAction>): CatalogEntry[] {
  const list =
    Symbol.iterator in Object(actions)
      ? [...(actions as Iterable<ZodAction>)]
      : Object.values(actions as Record<string, ZodAction>)
  return list.map(catalogEntryFromAction)
}

const validators = new WeakMap<CatalogEntry, z.ZodType>()

/** Checks `params` against the entry's JSON schema; returns the problem, or null when valid. */
export function validateParams(entry: CatalogEntry, params: unknown): string | null {
  let schema = validators.get(entry)
  if (!schema) {
    schema = z.fromJSONSchema(entry.paramsSchema as Parameters<typeof z.fromJSONSchema>[0])
    validators.set(entry, schema)
  }
  const result = schema.safeParse(params)
  if (result.success) return null
  return result.error.issues.map((i) => `${i.path.join('.') || '(params)'}: ${i.message}`).join('; ')
}
