/**
 * The history API when the archive cannot be reached (PostgreSQL down or restarting, the SQLite
 * file unreadable): a 503 with Retry-After that says so, instead of a 500 (nothing is wrong with
 * the request) or the API's usual 503 about Redis (which is up). Errors of the request itself
 * (HttpError: a 400, a 404) and faults in Sentinel pass through unchanged.
 */
import { HttpError } from '../platform/http/errors'
import { isStoreUnavailable } from '../platform/store/unavailable'
import { historyArchive } from './archive/open'
import type { SqlClient } from './archive/sql'

export const ARCHIVE_RETRY_AFTER_SECONDS = 10

export interface ArchiveResponse {
  status: number
  headers?: Record<string, string>
  body: unknown
}

/** PostgreSQL error classes meaning "the server is not there now": 08 connection, 57P0x shutdown/starting. */
const UNAVAILABLE_SQLSTATE = /^(08|57P0[1-4]|53300)/

/** An error of the archive's client that means the database cannot be reached now. */
export function isArchiveUnavailable(err: unknown): boolean {
  if (isStoreUnavailable(err)) return true // the socket errors (ECONNREFUSED, ECONNRESET...)
  const e = err as { code?: unknown; message?: unknown }
  if (typeof e?.code === 'string' && UNAVAILABLE_SQLSTATE.test(e.code)) return true
  const message = typeof e?.message === 'string' ? e.message : ''
  return /Connection terminated|connection timeout|Client has encountered a connection error|SQLITE_CANTOPEN|SQLITE_BUSY/i.test(
    message,
  )
}

const unavailable = (): ArchiveResponse => ({
  status: 503,
  headers: { 'Retry-After': String(ARCHIVE_RETRY_AFTER_SECONDS) },
  body: {
    error: 'archive_unavailable',
    message: `the incident archive cannot be reached now; retry in ${ARCHIVE_RETRY_AFTER_SECONDS} s`,
  },
})

/**
 * Runs `read` on this process's archive; answers 503 when the archive cannot be opened or is lost
 * while reading. `log` is told why (the archive's location, never a password).
 */
export async function withArchive(
  read: (db: SqlClient) => Promise<ArchiveResponse>,
  log: (msg: string, data: Record<string, unknown>) => void,
): Promise<ArchiveResponse> {
  let db: SqlClient
  try {
    db = await historyArchive()
  } catch (err) {
    // openArchive's message names the location (describePostgresUrl: no password) and the cause.
    log('history request refused: the archive cannot be opened', { error: (err as Error).message })
    return unavailable()
  }
  try {
    return await read(db)
  } catch (err) {
    if (err instanceof HttpError || !isArchiveUnavailable(err)) throw err
    log('history request refused: the archive is unreachable', {
      archive: db.location,
      error: (err as Error).message,
    })
    return unavailable()
  }
}
