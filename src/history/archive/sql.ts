/**
 * One small SQL client over SQLite (better-sqlite3, a file under DATA_DIR: nothing to run) and
 * PostgreSQL (pg, when DATABASE_URL is set), so the archive, its queries and reports are written
 * once. SQL is written with `?` placeholders (PostgreSQL's `$n` are made here), times are integer
 * milliseconds and flags 0/1 in both, JSON is text: the two dialects differ only where a query asks
 * `client.dialect` (full-text search, percentiles).
 *
 * SQLite is synchronous and has one connection, so an open transaction must not see another
 * caller's statements in the middle of it: every call waits its turn on one queue, and a
 * transaction holds the queue until it commits or rolls back.
 */
import { mkdirSync } from 'node:fs'
import path from 'node:path'
import BetterSqlite3 from 'better-sqlite3'
import pg from 'pg'

export type Dialect = 'sqlite' | 'postgres'

export type SqlValue = string | number | bigint | null | boolean

export interface SqlClient {
  readonly dialect: Dialect
  /** Where it is, for logs and errors: the file, or host:port/database (never the password). */
  readonly location: string
  /** The rows of a query. BIGINT columns come back as numbers in both dialects. */
  all<T = Record<string, unknown>>(sql: string, params?: SqlValue[]): Promise<T[]>
  /** A statement without rows; `changes` is the number of rows it wrote. */
  run(sql: string, params?: SqlValue[]): Promise<{ changes: number }>
  /** Runs `fn` in one transaction: all of it commits, or none (a throw rolls back). */
  transaction<T>(fn: (tx: SqlClient) => Promise<T>): Promise<T>
  close(): Promise<void>
}

/** `?` → `$1, $2, ...` (no query here puts a `?` inside a string literal). */
export function toPostgresPlaceholders(sql: string): string {
  let n = 0
  return sql.replace(/\?/g, () => `$${++n}`)
}

const sqliteParam = (v: SqlValue): string | number | bigint | null => (typeof v === 'boolean' ? (v ? 1 : 0) : v)

/** Opens (creating) the SQLite file; WAL so readers (the API) do not wait for the archiver. */
export function openSqlite(file: string): SqlClient {
  if (file !== ':memory:') mkdirSync(path.dirname(file), { recursive: true })
  const db = new BetterSqlite3(file)
  db.pragma('journal_mode = WAL')
  // FULL: a committed archive write survives a power loss, not only a kill -9 (which NORMAL covers).
  db.pragma('synchronous = FULL')
  db.pragma('foreign_keys = ON')
  db.pragma('busy_timeout = 5000')
  // Prepared once per SQL text: an archive pass runs the same few statements thousands of times.
  const statements = new Map<string, BetterSqlite3.Statement>()
  const prepare = (sql: string) => {
    let stmt = statements.get(sql)
    if (!stmt) {
      stmt = db.prepare(sql)
      if (statements.size < 500) statements.set(sql, stmt)
    }
    return stmt
  }
  let queue: Promise<unknown> = Promise.resolve()
  const turn = <T>(fn: () => Promise<T> | T): Promise<T> => {
    const next = queue.then(fn, fn)
    queue = next.catch(() => {})
    return next
  }
  const direct = (): SqlClient => ({
    dialect: 'sqlite',
    location: file,
    async all<T>(sql: string, params: SqlValue[] = []) {
      return prepare(sql).all(...params.map(sqliteParam)) as T[]
    },
    async run(sql: string, params: SqlValue[] = []) {
      const stmt = prepare(sql)
      if (!stmt.reader) return { changes: stmt.run(...params.map(sqliteParam)).changes }
      stmt.all(...params.map(sqliteParam))
      return { changes: 0 }
    },
    async transaction<T>(fn: (tx: SqlClient) => Promise<T>) {
      return fn(this) // already inside one (nested calls join it)
    },
    async close() {},
  })
  const inner = direct()
  return {
    dialect: 'sqlite',
    location: file,
    all: (sql, params) => turn(() => inner.all(sql, params)),
    run: (sql, params) => turn(() => inner.run(sql, params)),
    transaction: <T>(fn: (tx: SqlClient) => Promise<T>) =>
      turn(async () => {
        db.exec('BEGIN IMMEDIATE')
        try {
          const out = await fn(inner)
          db.exec('COMMIT')
          return out
        } catch (err) {
          if (db.inTransaction) db.exec('ROLLBACK')
          throw err
        }
      }),
    close: () =>
      turn(() => {
        if (db.open) db.close()
      }),
  }
}

// BIGINT (int8) and NUMERIC as numbers: the archive's times are milliseconds (well inside 2^53).
const pgTypes = {
  getTypeParser: (oid: number, format?: string) => {
    if (oid === 20) return (v: string) => Number(v)
    if (oid === 1700) return (v: string) => Number(v)
    return (pg.types.getTypeParser as (oid: number, format?: string) => unknown)(oid, format)
  },
}

/** Where a PostgreSQL URL points, without its password. */
export function describePostgresUrl(url: string): string {
  try {
    const u = new URL(url)
    return `postgres ${u.hostname}:${u.port || 5432}${u.pathname}`
  } catch {
    return 'postgres (unparsable URL)'
  }
}

export function openPostgres(url: string, opts: { max?: number } = {}): SqlClient {
  const pool = new pg.Pool({ connectionString: url, max: opts.max ?? 4, types: pgTypes as never })
  // An idle connection the server dropped must not crash the process; the next query reconnects.
  pool.on('error', () => {})
  const location = describePostgresUrl(url)
  const over = (q: pg.Pool | pg.PoolClient): Omit<SqlClient, 'transaction' | 'close'> => ({
    dialect: 'postgres',
    location,
    async all<T>(sql: string, params: SqlValue[] = []) {
      return (await q.query(toPostgresPlaceholders(sql), params)).rows as T[]
    },
    async run(sql: string, params: SqlValue[] = []) {
      return { changes: (await q.query(toPostgresPlaceholders(sql), params)).rowCount ?? 0 }
    },
  })
  return {
    ...over(pool),
    async transaction<T>(fn: (tx: SqlClient) => Promise<T>) {
      const conn = await pool.connect()
      // A checked-out client has no pool listener: a server lost between two statements would
      // emit an unhandled 'error' and end the process. Such a client is destroyed, not reused.
      let broken = false
      const onError = () => {
        broken = true
      }
      conn.on('error', onError)
      const tx: SqlClient = {
        ...over(conn),
        transaction: (inner) => inner(tx),
        close: async () => {},
      }
      try {
        await conn.query('BEGIN')
        const out = await fn(tx)
        await conn.query('COMMIT')
        return out
      } catch (err) {
        await conn.query('ROLLBACK').catch(() => {
          broken = true
        })
        throw err
      } finally {
        conn.off('error', onError)
        conn.release(broken)
      }
    },
    close: () => pool.end(),
  }
}
