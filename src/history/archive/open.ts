/**
 * The process's archive: PostgreSQL when DATABASE_URL is set, else SQLite at
 * DATA_DIR/history.sqlite; migrated before first use. One per process (the main process: the
 * archive is written and read there only, so DATABASE_URL never reaches a step process).
 */
import path from 'node:path'
import { getConfig, type SentinelConfig } from '../../platform/config/index'
import { migrate } from './schema'
import { openPostgres, openSqlite, type SqlClient } from './sql'

export const SQLITE_FILE = 'history.sqlite'

export function archiveLocation(cfg: Pick<SentinelConfig, 'DATABASE_URL' | 'DATA_DIR' | 'projectRoot'>): string {
  return cfg.DATABASE_URL ? 'postgres' : path.resolve(cfg.projectRoot, cfg.DATA_DIR, SQLITE_FILE)
}

/** Opens and migrates an archive (tests and benches open their own with this). */
export async function openArchive(
  cfg: Pick<SentinelConfig, 'DATABASE_URL' | 'DATA_DIR' | 'projectRoot'>,
): Promise<SqlClient> {
  const db = cfg.DATABASE_URL ? openPostgres(cfg.DATABASE_URL) : openSqlite(archiveLocation(cfg))
  try {
    await migrate(db)
  } catch (err) {
    await db.close().catch(() => {})
    throw new Error(`the incident archive (${db.location}) could not be prepared: ${(err as Error).message}`)
  }
  return db
}

let shared: Promise<SqlClient> | undefined

/** This process's archive, opened on first use. */
export function historyArchive(): Promise<SqlClient> {
  shared ??= openArchive(getConfig()).catch((err) => {
    shared = undefined // a later call tries again (PostgreSQL may have been starting)
    throw err
  })
  return shared
}

/** Closes this process's archive (at shutdown and between tests). */
export async function closeHistoryArchive(): Promise<void> {
  const db = shared
  shared = undefined
  if (db) await (await db.catch(() => null))?.close()
}
