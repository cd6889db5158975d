/** The allow-listed actions Sentinel can take. Nothing outside this catalog ever runs. */
import { restartContainer } from './restart-container/index'
import type { ActionDefinition } from './types'

export const ACTIONS: Record<string, ActionDefinition<any>> = {
  [restartContainer.id]: restartContainer,
}

export function getAction(id: string): ActionDefinition<any> | undefined {
  return Object.prototype.hasOwnProperty.call(ACTIONS, id) ? ACTIONS[id] : undefined
}
