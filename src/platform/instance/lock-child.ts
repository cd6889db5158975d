/**
 * A process that takes the instance lock, for src/platform/instance/lock.test.ts: the lock belongs to a
 * process, so contention and release on exit need real processes.
 *
 * Env: LOCK_DIR; MODE:
 *  - `race`: prints {"ready":true}, then for each line `go <epoch ms>` on stdin takes the lock at
 *    that moment (racers start together) and prints the outcome; `release` releases it (if won) and
 *    prints {"released":true}. Many rounds in one process: a round costs no process start.
 *  - `hold`: takes the lock at once, prints the outcome, holds until stdin ends, exits normally.
 *  - `signal`: takes the lock, prints the outcome, holds until a signal ends it.
 *  - `graceful`: like `signal`, with its own SIGTERM handler that exits 100 ms later (the way
 *    the launcher stops gracefully).
 * Outcome: {"won":true,"pid":n} or {"won":false,"message":"...","holderPid":n}.
 */
import { acquireInstanceLock, type InstanceLock, InstanceLockError } from './lock'

const dir = process.env.LOCK_DIR!
const mode = process.env.MODE ?? 'hold'
const say = (o: unknown) => process.stdout.write(`${JSON.stringify(o)}\n`)

function take(): InstanceLock | null {
  try {
    const lock = acquireInstanceLock(dir, { port: 4000 + (process.pid % 1000), host: '127.0.0.1' })
    say({ won: true, pid: process.pid })
    return lock
  } catch (err) {
    if (!(err instanceof InstanceLockError)) throw err
    say({ won: false, message: err.message, holderPid: err.holder?.pid ?? null })
    return null
  }
}

const holdUntilStdinEnds = () => {
  process.stdin.resume()
  process.stdin.on('end', () => process.exit(0))
}

if (mode === 'race') {
  say({ ready: true })
  let buffered = ''
  let lock: InstanceLock | null = null
  process.stdin.on('data', (chunk) => {
    buffered += chunk
    let nl: number
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl)
      buffered = buffered.slice(nl + 1)
      const go = /^go (\d+)$/.exec(line)
      if (go) {
        const wait = Number(go[1]) - Date.now()
        if (wait > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, wait)
        lock = take()
      } else if (line === 'release') {
        lock?.release()
        lock = null
        say({ released: true })
      }
    }
  })
  process.stdin.on('end', () => process.exit(0))
} else if (mode === 'hold') {
  if (take()) holdUntilStdinEnds()
} else {
  if (mode === 'graceful') process.on('SIGTERM', () => setTimeout(() => process.exit(0), 100))
  if (take()) setInterval(() => {}, 60_000)
}
