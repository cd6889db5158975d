/**
 * One Sentinel per data directory. Two instances on one DATA_DIR would run two Redis servers on one
 * append-only file and stop each other's; so the main process takes `DATA_DIR/instance.lock` before
 * anything listens, and a second start fails at once naming the first (pid, port, host, start time,
 * how to stop it).
 *
 * The lock is a file holding the holder's record as JSON. Node has no flock(2), so whether the holder
 * still runs is read from /proc: the pid, and that pid's start time (field 22 of /proc/<pid>/stat),
 * so that a pid the kernel has since given to another process is not taken for the holder. A lock
 * whose holder is gone (kill -9, a crash, a reboot) is stale and the next start takes it over.
 *
 * Creating and taking over, without two winners:
 *
 * - Every record is written whole to a temporary file first and only then given the lock's name,
 *   with link(2) (which fails with EEXIST when the name exists: the O_EXCL of a name) or rename(2)
 *   (which replaces it). Nobody ever reads a half-written lock, so a lock that does not parse was
 *   left by something else (a person, a full disk) and is stale. Each record carries a random nonce,
 *   so no two records (or lock files' contents) are ever the same.
 * - No lock: link(2). Of any number of starts, exactly one link succeeds.
 * - A stale lock: rename(2) over it is not conditional (racers that all saw the same stale lock
 *   would each replace it, the later ones replacing the first winner's live lock), and unlinking it
 *   first has the same flaw. So a takeover is guarded by a claim: the claim file
 *   `instance.lock.claim-<digest of the stale content>` is created with link(2); only its creator may
 *   replace that content, and only after reading the lock again and finding that very content
 *   there. Exactly one racer creates the claim; it replaces the stale lock and removes the claim.
 *   A racer that finds the claim held by a live process waits for it to finish, then finds the new
 *   live lock and is refused. A slow racer that creates the claim after the winner removed it reads
 *   the lock again, finds the winner's content (a stale content never comes back: nonces are
 *   unique) and gives up. Between that read and the rename nothing else can change the lock: a
 *   fresh link fails on the existing name, a stale content's holder is dead and does not release,
 *   and any other claimer holds a claim for some other content, which is no longer the lock's.
 * - A claim is itself a lock (holding its creator's record): a claimer killed mid-takeover leaves
 *   a stale claim, which is taken over the same way, one level deeper (`…claim-<a>.claim-<b>`).
 *   A winner removes the claims it passed through, and the leftovers of earlier crashes.
 *
 * Released on exit (normal exit, SIGTERM, SIGINT, SIGHUP) by deleting the file if it is still ours.
 * kill -9 leaves it behind, stale, for the next start to take over. npm start holds another lock
 * on the same directory, with flock(1) (see scripts/lib.sh): the two are different files, so the
 * start.sh that launched this process never blocks it.
 */
import { createHash, randomBytes } from 'node:crypto'
import { linkSync, mkdirSync, readdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'

export const INSTANCE_LOCK_FILE = 'instance.lock'

/** Who holds a lock: what a second start prints, and what tells whether the holder still runs. */
export interface InstanceRecord {
  pid: number
  /** Field 22 of /proc/<pid>/stat (clock ticks after boot); null where there is no /proc. */
  pidStartTime: string | null
  port: number
  host: string
  /** The machine: a pid says nothing about a process on another machine or in another container. */
  hostname: string
  startedAt: string
  /** Makes every record unique (see the takeover above). */
  nonce: string
}

export interface InstanceLock {
  readonly file: string
  readonly record: InstanceRecord
  /** Deletes the lock file if it is still this process's; safe to call more than once. */
  release(): void
}

export class InstanceLockError extends Error {
  constructor(
    message: string,
    readonly file: string,
    readonly holder: InstanceRecord | null,
  ) {
    super(message)
    this.name = 'InstanceLockError'
  }
}

/** Signals that end the process, after which the lock is released. */
const SIGNALS: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP']

/** How long a start waits for another start that is taking over a stale lock right now. */
const TAKEOVER_WAIT_MS = 5000

/**
 * Field 22 of /proc/<pid>/stat; undefined when no such process runs (a zombie, killed but not yet
 * reaped by its parent, no longer runs either); null where there is no /proc.
 */
export function processStartTime(pid: number): string | null | undefined {
  let stat: string
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  } catch {
    try {
      readdirSync('/proc/self')
    } catch {
      return null
    }
    return undefined
  }
  // Field 2 is the command name in parentheses and may itself hold spaces and parentheses: count
  // from the last ')'. What follows starts at field 3 (the state), so field 22 is the 20th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  if (fields[0] === 'Z' || fields[0] === 'X') return undefined
  return fields[19]
}

/** The record of this process, for a lock on `info.port` / `info.host`. */
export function ownRecord(info: { port: number; host: string }, pid = process.pid): InstanceRecord {
  return {
    pid,
    pidStartTime: processStartTime(pid) ?? null,
    port: info.port,
    host: info.host,
    hostname: os.hostname(),
    startedAt: new Date().toISOString(),
    nonce: randomBytes(12).toString('hex'),
  }
}

/** A record read from a lock file; null when the text is not one. */
export function parseRecord(text: string): InstanceRecord | null {
  try {
    const r = JSON.parse(text) as Partial<InstanceRecord> | null
    if (!r || !Number.isSafeInteger(r.pid) || (r.pid as number) <= 0) return null
    if (r.pidStartTime !== null && typeof r.pidStartTime !== 'string') return null
    if (typeof r.hostname !== 'string' || typeof r.startedAt !== 'string') return null
    return {
      pid: r.pid as number,
      pidStartTime: r.pidStartTime,
      port: Number(r.port),
      host: String(r.host),
      hostname: r.hostname,
      startedAt: r.startedAt,
      nonce: String(r.nonce ?? ''),
    }
  } catch {
    return null
  }
}

/**
 * Whether a record's process still runs: `running`, `gone`, or `unknown` when it was made on
 * another machine (or in another pid namespace), where this one cannot look.
 */
export function holderState(r: InstanceRecord): 'running' | 'gone' | 'unknown' {
  if (r.hostname !== os.hostname()) return 'unknown'
  const now = processStartTime(r.pid)
  if (now === undefined) return 'gone'
  if (now === null || r.pidStartTime === null) {
    // No /proc: the pid alone (EPERM means it exists, as someone else's process).
    try {
      process.kill(r.pid, 0)
      return 'running'
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === 'EPERM' ? 'running' : 'gone'
    }
  }
  return now === r.pidStartTime ? 'running' : 'gone'
}

/** "pid 123, port 3000, host 127.0.0.1, started 2025-01-01T00:00:00.000Z" */
export function describeRecord(r: InstanceRecord): string {
  return `pid ${r.pid}, port ${r.port}, host ${r.host}, started ${r.startedAt}${r.hostname !== os.hostname() ? `, on machine ${r.hostname}` : ''}`
}

/** The error a second start gets: who holds the data directory, and how to stop it. */
export function lockHeldError(dataDir: string, file: string, holder: InstanceRecord): InstanceLockError {
  const who = describeRecord(holder)
  if (holderState(holder) === 'unknown') {
    return new InstanceLockError(
      `a Sentinel on machine ${holder.hostname} (${who}) holds the data directory ${dataDir}; stop it first, or if it no longer runs, delete ${file}`,
      file,
      holder,
    )
  }
  return new InstanceLockError(
    `Sentinel is already running on data directory ${dataDir} (${who}); stop it first (kill ${holder.pid}, or Ctrl-C where it runs), or give this one another DATA_DIR`,
    file,
    holder,
  )
}

/** Thrown inside the takeover when a name is held by a live process. */
class HeldBy {
  constructor(readonly holder: InstanceRecord | null) {}
}

/** The claim that entitles its creator to replace the content `seen` of `name` (see above). */
export const claimFileFor = (name: string, seen: string) =>
  `${name}.claim-${createHash('sha256').update(seen).digest('hex').slice(0, 16)}`

function readText(file: string): string | null {
  try {
    return readFileSync(file, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw err
  }
}

function unlinkQuietly(file: string): void {
  try {
    unlinkSync(file)
  } catch {}
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)
}

/**
 * Gives `name` the content `text` if the name is free or its holder is gone; throws HeldBy when a
 * live process holds it, or holds a claim on it for longer than until `deadline`.
 */
function take(name: string, text: string, deadline: number): void {
  const temp = `${name}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`
  writeFileSync(temp, text, { flag: 'wx', mode: 0o644 })
  try {
    for (;;) {
      try {
        linkSync(temp, name)
        return
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      }
      const seen = readText(name)
      if (seen === null) continue // released meanwhile: link again
      const holder = parseRecord(seen)
      if (holder && holderState(holder) !== 'gone') throw new HeldBy(holder)
      // Stale. Only the creator of this claim may replace this content.
      const claim = claimFileFor(name, seen)
      try {
        take(claim, text, deadline)
      } catch (err) {
        if (!(err instanceof HeldBy)) throw err
        // A live process is taking this lock over right now: when it is done, the lock is its.
        if (Date.now() > deadline) throw err
        sleepSync(10)
        continue
      }
      try {
        if (readText(name) === seen) {
          renameSync(temp, name)
          return
        }
        // Someone else replaced it first (their claim came and went): look again.
      } finally {
        unlinkQuietly(claim)
      }
    }
  } finally {
    unlinkQuietly(temp)
  }
}

/**
 * Removes what crashed starts left: claims (none matters once the lock holds a live record: a claim
 * only ever entitles its holder to replace the content it was named after, and that content is
 * gone for good) and the temporary files of processes that are gone (a live racer's are its own).
 */
function sweep(dir: string, file: string): void {
  const base = path.basename(file)
  for (const entry of readdirSync(dir)) {
    if (!entry.startsWith(`${base}.`)) continue
    const temp = /\.(\d+)\.[0-9a-f]+\.tmp$/.exec(entry)
    if (temp ? processStartTime(Number(temp[1])) === undefined : entry.includes('.claim-'))
      unlinkQuietly(path.join(dir, entry))
  }
}

/**
 * Takes `<dataDir>/instance.lock` for this process, or throws InstanceLockError naming the running
 * instance. The lock is released on exit; `release()` releases it sooner.
 */
export function acquireInstanceLock(dataDir: string, info: { port: number; host: string }): InstanceLock {
  const dir = path.resolve(dataDir)
  mkdirSync(dir, { recursive: true })
  const file = path.join(dir, INSTANCE_LOCK_FILE)
  const record = ownRecord(info)
  const text = `${JSON.stringify(record)}\n`
  try {
    take(file, text, Date.now() + TAKEOVER_WAIT_MS)
  } catch (err) {
    if (!(err instanceof HeldBy)) throw err
    // A holder of the lock itself, or of a claim on it that outlasted the wait.
    if (!err.holder)
      throw new InstanceLockError(`the instance lock ${file} could not be taken; see that file`, file, null)
    if (err.holder.nonce === parseRecord(readText(file) ?? '')?.nonce) throw lockHeldError(dir, file, err.holder)
    throw new InstanceLockError(
      `another Sentinel start (${describeRecord(err.holder)}) is taking over the stale instance lock of data directory ${dir} right now; try again`,
      file,
      err.holder,
    )
  }
  sweep(dir, file)

  let released = false
  const release = () => {
    if (released) return
    released = true
    process.removeListener('exit', release)
    for (const sig of SIGNALS) process.removeListener(sig, onSignal)
    // Never another instance's lock (a person may have deleted ours and another taken the name).
    if (readText(file) === text) unlinkQuietly(file)
  }
  // With another handler for the signal (the launcher's graceful stop), that handler ends the
  // process and 'exit' releases. Alone, this handler would swallow the signal's default action
  // (termination): release, then raise the signal again without it.
  const onSignal = (sig: NodeJS.Signals) => {
    if (process.listenerCount(sig) > 1) return
    release()
    process.kill(process.pid, sig)
  }
  process.on('exit', release)
  for (const sig of SIGNALS) process.on(sig, onSignal)
  return { file, record, release }
}

/** The running instance that holds `<dataDir>/instance.lock`, or null when none does. */
export function runningInstance(dataDir: string): InstanceRecord | null {
  const holder = parseRecord(readText(path.join(path.resolve(dataDir), INSTANCE_LOCK_FILE)) ?? '')
  return holder && holderState(holder) !== 'gone' ? holder : null
}
