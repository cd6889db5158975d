/**
 * The Node side of npm start's lock on DATA_DIR (scripts/lib.sh, lock_data_dir). The shell holds
 * the lock itself with flock(1) on `DATA_DIR/start.lock`; Node cannot, but it can say who holds it.
 *
 *   node --import tsx src/platform/instance/start-lock-cli.ts record LOCKFILE PID PORT HOST
 *     Run by the start that holds the flock: writes its record (start.sh's pid) into the lock file,
 *     for the message a second start prints, then refuses (exit 1, naming it) when a Sentinel
 *     started without npm start (tests, the demo) already runs on this data directory.
 *   node --import tsx src/platform/instance/start-lock-cli.ts held LOCKFILE
 *     Run by a start that did not get the flock: prints who holds it, and how to stop it.
 */
import { writeFileSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { holderState, lockHeldError, ownRecord, parseRecord, runningInstance } from './lock'

function record(lockFile: string, pid: number, port: number, host: string): number {
  const dataDir = path.dirname(path.resolve(lockFile))
  // Written in place, never replaced: flock(1) holds this very inode.
  writeFileSync(lockFile, `${JSON.stringify(ownRecord({ port, host }, pid))}\n`)
  const running = runningInstance(dataDir)
  if (running) {
    console.error(lockHeldError(dataDir, lockFile, running).message)
    return 1
  }
  return 0
}

function held(lockFile: string): number {
  const dataDir = path.dirname(path.resolve(lockFile))
  let text = ''
  try {
    text = readFileSync(lockFile, 'utf8')
  } catch {}
  const starter = parseRecord(text)
  // npm start's record, while its shell runs; else the Sentinel it started, which inherited the
  // lock and outlived it (the shell was killed -9).
  const holder = starter && holderState(starter) !== 'gone' ? starter : runningInstance(dataDir)
  if (holder) console.error(lockHeldError(dataDir, lockFile, holder).message)
  else
    console.error(
      `Sentinel is already running on data directory ${dataDir}: a process holds ${lockFile} (fuser -v ${lockFile} shows which); stop it first`,
    )
  return 0
}

const [command, lockFile, ...rest] = process.argv.slice(2)
if (command === 'record' && lockFile && rest.length === 3) {
  process.exitCode = record(lockFile, Number(rest[0]), Number(rest[1]), rest[2])
} else if (command === 'held' && lockFile) {
  process.exitCode = held(lockFile)
} else {
  console.error('usage: start-lock-cli.ts record LOCKFILE PID PORT HOST | held LOCKFILE')
  process.exitCode = 2
}
