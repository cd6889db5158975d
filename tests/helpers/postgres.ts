/**
 * A real PostgreSQL server (Debian's) on a free port with its own cluster directory, for one test
 * file or bench. PostgreSQL refuses to run as root, so the cluster belongs to the `postgres` user
 * the Debian package creates, and the server is spawned with that uid (no su, no shell). Password
 * authentication (scram) on loopback only, like a real deployment; the password is random.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import pg from 'pg'
import { freePort, waitFor } from './ports'

export interface TestPostgres {
  port: number
  /** postgres://sentinel:<password>@127.0.0.1:<port>/sentinel */
  url: string
  password: string
  dir: string
  pid: number
  /** kill -9 of the server (its cluster stays; restart() brings it back). */
  crash(): Promise<void>
  restart(): Promise<void>
  stop(): Promise<void>
}

/** The directory of Debian's PostgreSQL server binaries (the newest installed major version). */
export function postgresBin(): string {
  const root = '/usr/lib/postgresql'
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => /^\d+$/.test(v))
        .sort((a, b) => Number(b) - Number(a))
    : []
  if (!versions.length) throw new Error('PostgreSQL is not installed (apt-get install postgresql)')
  return path.join(root, versions[0], 'bin')
}

const idOf = (flag: '-u' | '-g') => Number(execFileSync('id', [flag, 'postgres']).toString().trim())

export async function startPostgres(): Promise<TestPostgres> {
  const bin = postgresBin()
  const uid = idOf('-u')
  const gid = idOf('-g')
  const port = await freePort()
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sentinel-test-pg-'))
  chownSync(dir, uid, gid)
  const data = path.join(dir, 'data')
  const password = randomBytes(12).toString('hex')
  const pwfile = path.join(dir, 'pw')
  writeFileSync(pwfile, password + '\n', { mode: 0o600 })
  chownSync(pwfile, uid, gid)
  const asPostgres = { uid, gid, cwd: dir, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8' } }
  execFileSync(
    path.join(bin, 'initdb'),
    ['-D', data, '-U', 'sentinel', '--pwfile', pwfile, '--auth', 'scram-sha-256', '-E', 'UTF8', '--no-sync'],
    { ...asPostgres, stdio: 'ignore' },
  )
  rmSync(pwfile)
  let proc: ChildProcess
  const launch = async () => {
    proc = spawn(
      path.join(bin, 'postgres'),
      ['-D', data, '-p', String(port), '-h', '127.0.0.1', '-k', dir, '-c', 'fsync=on', '-c', 'max_connections=50'],
      { ...asPostgres, stdio: 'ignore' },
    )
    await waitFor(
      async () => {
        const c = new pg.Client({ host: '127.0.0.1', port, user: 'sentinel', password, database: 'postgres' })
        c.on('error', () => {})
        try {
          await c.connect()
          await c.query('SELECT 1')
          return true
        } catch {
          return false
        } finally {
          await c.end().catch(() => {})
        }
      },
      { timeoutMs: 30_000, what: `postgres on ${port}` },
    )
  }
  await launch()
  const admin = new pg.Client({ host: '127.0.0.1', port, user: 'sentinel', password, database: 'postgres' })
  await admin.connect()
  await admin.query('CREATE DATABASE sentinel')
  await admin.end()
  const exit = async (signal: NodeJS.Signals) => {
    if (proc.exitCode !== null || proc.signalCode !== null) return
    const exited = new Promise((r) => proc.once('exit', r))
    proc.kill(signal)
    await exited
  }
  return {
    port,
    url: `postgres://sentinel:${password}@127.0.0.1:${port}/sentinel`,
    password,
    dir,
    get pid() {
      return proc.pid ?? -1
    },
    crash: () => exit('SIGKILL'),
    restart: launch,
    async stop() {
      // SIGINT: PostgreSQL's fast shutdown (its backends end with it).
      await exit('SIGINT')
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
