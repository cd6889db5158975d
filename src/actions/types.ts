/** The interface every remediation action implements. Each action lives in its own folder. */
import { createHash } from 'node:crypto'
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { getConfig, type SentinelConfig } from '../platform/config/index'
import type { z } from 'zod'
import type { ContainerInfo } from '../platform/docker/client'
import type { RiskLevel } from '../platform/store/model'

export interface ActionContext {
  incidentId: string
  /** Who runs it: `sentinel:fast-path`, `step:ExecuteRemediation`, `user:alice`. */
  actor: string
  /** When the problem was observed; an action already done after this time is not done again. */
  since?: string
  /** The node the target lives on (src/actions/on-node.ts); absent: this host's engine. */
  node?: string
}

export interface VerifyResult {
  ok: boolean
  detail: string
  data?: Record<string, unknown>
}

export interface ActionDefinition<P extends Record<string, unknown> = Record<string, unknown>> {
  id: string
  risk: RiskLevel
  description: string
  params: z.ZodType<P>
  /** What the action will change and the readings it should improve, taken before it runs. */
  snapshot(params: P, ctx: ActionContext): Promise<Record<string, unknown>>
  /**
   * The snapshot from an inspect of the target the caller took moments ago (the fast path has the
   * dead container's), instead of reading it again; null when the inspect does not fit (another
   * container, or one without the watch label). Absent: the action always reads.
   */
  snapshotOf?(params: P, info: ContainerInfo): Record<string, unknown> | null
  execute(params: P, ctx: ActionContext): Promise<Record<string, unknown>>
  verify(params: P, ctx: ActionContext): Promise<VerifyResult>
  /** Undoes execute where that is possible; absent when the action cannot be undone. */
  rollback?(params: P, ctx: ActionContext, executed: Record<string, unknown>): Promise<Record<string, unknown>>
}

// ---- Helpers shared by the actions (kept here so each action folder stays self-contained) ----

/**
 * A setting an action reads, from the validated configuration: its default, bounds and parsing are
 * in the configuration's schema (src/platform/config/), the one definition; `.env` counts as it
 * does for every setting.
 */
export function actionSetting<K extends keyof SentinelConfig>(name: K): SentinelConfig[K] {
  return getConfig()[name]
}

type NumberSetting = { [K in keyof SentinelConfig]: SentinelConfig[K] extends number ? K : never }[keyof SentinelConfig]

/** A number setting (its bounds checked by the configuration at start). */
export function numberSetting(name: NumberSetting): number {
  return actionSetting(name)
}

/**
 * An incident id as a file name: ids Sentinel makes (`inc_...`) pass unchanged; anything else is
 * hashed, so no id can name a path outside the directory it is used in.
 */
export function incidentFileKey(incidentId: string): string {
  if (/^[A-Za-z0-9][A-Za-z0-9_.-]{0,100}$/.test(incidentId) && !incidentId.includes('..')) return incidentId
  return `h_${createHash('sha256').update(incidentId).digest('hex').slice(0, 32)}`
}

/**
 * Small JSON records an action keeps per incident on local disk (what it changed, so a retry is
 * a no-op and a rollback knows what to restore). Writes are atomic (temporary file + rename).
 */
export class IncidentRecords<T extends object> {
  constructor(private readonly dir: string) {}

  /** `<DATA_DIR>/actions/<actionId>` unless a directory is given. */
  static forAction<T extends object>(actionId: string, dir?: string): IncidentRecords<T> {
    if (dir) return new IncidentRecords<T>(path.resolve(dir))
    const cfg = getConfig()
    return new IncidentRecords<T>(path.resolve(cfg.projectRoot, cfg.DATA_DIR, 'actions', actionId))
  }

  file(key: string): string {
    return path.join(this.dir, `${incidentFileKey(key)}.json`)
  }

  async read(key: string): Promise<T | undefined> {
    try {
      return JSON.parse(await readFile(this.file(key), 'utf8')) as T
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw err
    }
  }

  async write(key: string, record: T): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 })
    const file = this.file(key)
    const tmp = `${file}.${process.pid}.${Date.now()}.tmp`
    await writeFile(tmp, JSON.stringify(record, null, 2), { mode: 0o600 })
    await rename(tmp, file)
  }
}
