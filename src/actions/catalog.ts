/** The allow-listed actions Sentinel can take. Nothing outside this catalog ever runs. */
import { cleanSandbox } from './clean-sandbox/index'
import { killProcess } from './kill-process/index'
import { restartContainer } from './restart-container/index'
import { restartService } from './restart-service/index'
import { rollbackService } from './rollback-service/index'
import { scaleService } from './scale-service/index'
import { scaleOut } from './scale-out/index'
import type { ActionDefinition } from './types'
import { updateMemoryLimit } from './update-memory-limit/index'

export const ACTIONS: Record<string, ActionDefinition> = {
  [restartContainer.id]: restartContainer,
  [cleanSandbox.id]: cleanSandbox,
  [updateMemoryLimit.id]: updateMemoryLimit,
  [scaleOut.id]: scaleOut,
  [killProcess.id]: killProcess,
  [restartService.id]: restartService,
  [scaleService.id]: scaleService,
  [rollbackService.id]: rollbackService,
}

export function getAction(id: string): ActionDefinition | undefined {
  return Object.prototype.hasOwnProperty.call(ACTIONS, id) ? ACTIONS[id] : undefined
}
