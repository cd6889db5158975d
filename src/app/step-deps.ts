/** Stores for step processes (each step invocation is a fresh process). */
import { getConfig } from '../platform/config/index'
import { stores } from '../platform/store/stores'

export function stepDeps(actor: string) {
  const { store, audit } = stores()
  return { store, audit, actor, config: getConfig() }
}
