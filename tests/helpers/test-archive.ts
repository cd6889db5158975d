/**
 * An empty, migrated archive for one test file: SQLite in a temporary directory, or a real
 * PostgreSQL server of its own (./postgres.ts). The same tests run on both dialects through it.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { migrate } from '../../src/history/archive/schema'
import { openPostgres, openSqlite, type Dialect, type SqlClient } from '../../src/history/archive/sql'
import { startPostgres, type TestPostgres } from './postgres'

export interface TestArchive {
  db: SqlClient
  /** The PostgreSQL server, for the postgres dialect. */
  server?: TestPostgres
  /** Closes the client, stops the server, removes the directory. */
  close(): Promise<void>
}

export async function openTestArchive(dialect: Dialect, opts: { migrate?: boolean } = {}): Promise<TestArchive> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sentinel-test-archive-'))
  const server = dialect === 'postgres' ? await startPostgres() : undefined
  const db = server ? openPostgres(server.url) : openSqlite(path.join(dir, 'history.sqlite'))
  if (opts.migrate !== false) await migrate(db)
  return {
    db,
    server,
    async close() {
      await db.close().catch(() => {})
      await server?.stop()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
