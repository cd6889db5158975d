import assert from 'node:assert/strict'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, beforeEach, describe, test } from 'node:test'
import {
  acquireInstanceLock,
  claimFileFor,
  INSTANCE_LOCK_FILE,
  InstanceLockError,
  type InstanceRecord,
  ownRecord,
  processStartTime,
} from './lock'

const ROOT = path.resolve(import.meta.dirname, '..', '..', '..')
const CHILD = path.join(import.meta.dirname, 'lock-child.ts')

interface Outcome {
  won: boolean
  pid?: number
  message?: string
  holderPid?: number | null
}

interface Child {
  proc: ChildProcess
  /** Resolves with each JSON line the child prints, in order. */
  next(): Promise<any>
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

function child(dir: string, mode: string): Child {
  const proc = spawn(process.execPath, ['--import', 'tsx', CHILD], {
    cwd: ROOT,
    env: { ...process.env, LOCK_DIR: dir, MODE: mode },
    stdio: ['pipe', 'pipe', 'inherit'],
  })
  const lines: any[] = []
  const waiters: ((v: any) => void)[] = []
  let buf = ''
  proc.stdout!.on('data', (d) => {
    buf += d
    let nl: number
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = JSON.parse(buf.slice(0, nl))
      buf = buf.slice(nl + 1)
      const w = waiters.shift()
      if (w) w(line)
      else lines.push(line)
    }
  })
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    proc.once('exit', (code, signal) => r({ code, signal })),
  )
  return {
    proc,
    exited,
    next: () =>
      lines.length
        ? Promise.resolve(lines.shift())
        : Promise.race([
            new Promise((r) => waiters.push(r)),
            exited.then(() => Promise.reject(new Error('the child exited first'))),
          ]),
  }
}

const lockFile = (dir: string) => path.join(dir, INSTANCE_LOCK_FILE)
const readLock = (dir: string): InstanceRecord => JSON.parse(readFileSync(lockFile(dir), 'utf8'))
const writeLock = (dir: string, r: Partial<InstanceRecord> | string) =>
  writeFileSync(lockFile(dir), typeof r === 'string' ? r : JSON.stringify(r))
/** A pid that was just used and is gone now. */
const deadPid = () => spawnSync('true').pid!
const staleRecord = (over: Partial<InstanceRecord> = {}): InstanceRecord => ({
  ...ownRecord({ port: 3999, host: '127.0.0.1' }, deadPid()),
  ...over,
})

describe('instance lock', { timeout: 120_000 }, () => {
  let dir: string
  const held: { release(): void }[] = []
  const children: Child[] = []
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'sentinel-lock-'))
  })
  afterEach(() => {
    for (const l of held.splice(0)) l.release()
    for (const c of children.splice(0))
      if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill('SIGKILL')
    rmSync(dir, { recursive: true, force: true })
  })
  const spawnChild = (mode: string) => {
    const c = child(dir, mode)
    children.push(c)
    return c
  }

  test('takes a free directory and records who holds it', () => {
    const lock = acquireInstanceLock(dir, { port: 3000, host: '127.0.0.1' })
    held.push(lock)
    const r = readLock(dir)
    assert.equal(r.pid, process.pid)
    assert.equal(r.pidStartTime, readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ')[19])
    assert.equal(r.port, 3000)
    assert.equal(r.host, '127.0.0.1')
    assert.ok(Math.abs(Date.parse(r.startedAt) - Date.now()) < 10_000)
    assert.deepEqual(readdirSync(dir), [INSTANCE_LOCK_FILE], 'no temporary file is left')
  })

  test('a second taker is refused with a message naming the holder: pid, port, host, start time, how to stop it', async () => {
    const lock = acquireInstanceLock(dir, { port: 3000, host: '127.0.0.1' })
    held.push(lock)
    const other = spawnChild('hold')
    const out: Outcome = await other.next()
    assert.equal(out.won, false)
    assert.equal(out.holderPid, process.pid)
    assert.match(
      out.message!,
      new RegExp(
        `already running on data directory ${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(pid ${process.pid}, port 3000, host 127\\.0\\.0\\.1, started ${lock.record.startedAt.replace(/\./g, '\\.')}\\); stop it first \\(kill ${process.pid}`,
      ),
    )
    // This process too: the lock is not re-entrant.
    assert.throws(
      () => acquireInstanceLock(dir, { port: 3001, host: '127.0.0.1' }),
      (err) => err instanceof InstanceLockError && err.holder?.pid === process.pid,
    )
    assert.equal(readLock(dir).nonce, lock.record.nonce, 'the refused takers left the lock as it was')
  })

  test('release deletes the file, twice is harmless, and the directory can be taken again', () => {
    const lock = acquireInstanceLock(dir, { port: 3000, host: '127.0.0.1' })
    lock.release()
    assert.equal(existsSync(lockFile(dir)), false)
    lock.release()
    const again = acquireInstanceLock(dir, { port: 3000, host: '127.0.0.1' })
    held.push(again)
    assert.equal(readLock(dir).nonce, again.record.nonce)
  })

  test('release never deletes a lock that is no longer this one', () => {
    const lock = acquireInstanceLock(dir, { port: 3000, host: '127.0.0.1' })
    const someoneElse = staleRecord()
    writeLock(dir, someoneElse)
    lock.release()
    assert.equal(readLock(dir).nonce, someoneElse.nonce)
  })

  for (const [what, stale] of [
    ['its pid is gone', () => staleRecord()],
    ['its pid runs but was reused (another start time)', () => staleRecord({ pid: process.pid, pidStartTime: '1' })],
    ['it is not a record at all', () => 'not json'],
    ['it is empty', () => ''],
  ] as const) {
    test(`takes over a stale lock: ${what}`, () => {
      writeLock(dir, stale())
      const lock = acquireInstanceLock(dir, { port: 3000, host: '127.0.0.1' })
      held.push(lock)
      assert.equal(readLock(dir).nonce, lock.record.nonce)
      assert.deepEqual(readdirSync(dir), [INSTANCE_LOCK_FILE])
    })
  }

  test('takes over a stale lock: its holder was killed and is a zombie its parent has not reaped yet', async () => {
    // `sleep 0` exits at once; the shell becomes `sleep 5`, which never reaps it. The shell may
    // still reap it first when `sleep 0` ends before the exec (a loaded host): then try again.
    const stat = (pid: number) => {
      try {
        return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
      } catch {
        return undefined // reaped: gone from /proc
      }
    }
    const parents: ReturnType<typeof spawn>[] = []
    try {
      let zombie = 0
      for (let attempt = 0; attempt < 10 && !zombie; attempt++) {
        const parent = spawn('sh', ['-c', 'sleep 0 & echo $!; exec sleep 5'], { stdio: ['ignore', 'pipe', 'ignore'] })
        parents.push(parent)
        const pid = Number(await new Promise<string>((r) => parent.stdout!.once('data', (d) => r(String(d)))))
        for (let i = 0; i < 200 && stat(pid) && stat(pid)![0] !== 'Z'; i++) await new Promise((r) => setTimeout(r, 10))
        if (stat(pid)?.[0] === 'Z') zombie = pid
      }
      assert.ok(zombie, 'a zombie was made')
      writeLock(dir, staleRecord({ pid: zombie, pidStartTime: stat(zombie)![19] }))
      const lock = acquireInstanceLock(dir, { port: 3000, host: '127.0.0.1' })
      held.push(lock)
      assert.equal(readLock(dir).nonce, lock.record.nonce)
    } finally {
      for (const parent of parents) parent.kill('SIGKILL')
    }
  })

  test('a lock made on another machine is refused (its pid means nothing here), naming that machine', () => {
    writeLock(dir, staleRecord({ hostname: 'elsewhere-1' }))
    assert.throws(
      () => acquireInstanceLock(dir, { port: 3000, host: '127.0.0.1' }),
      /a Sentinel on machine elsewhere-1 .* if it no longer runs, delete .*instance\.lock/,
    )
  })

  test('a claim left by a start killed in the middle of a takeover is taken over in turn, and swept', async () => {
    // What a racer leaves when killed between creating its claim and replacing the lock.
    const stale = staleRecord()
    const text = JSON.stringify(stale)
    writeLock(dir, text)
    const claim = claimFileFor(lockFile(dir), text)
    writeFileSync(claim, JSON.stringify(staleRecord()))
    writeFileSync(`${lockFile(dir)}.${stale.pid}.0123abcd.tmp`, text)
    const lock = acquireInstanceLock(dir, { port: 3000, host: '127.0.0.1' })
    held.push(lock)
    assert.equal(readLock(dir).nonce, lock.record.nonce)
    assert.deepEqual(readdirSync(dir), [INSTANCE_LOCK_FILE], 'the stale claim and the dead temporary file are gone')
  })

  test('a claim held by a live start makes the others wait for it, then refuse naming it', async () => {
    const stale = staleRecord()
    const text = JSON.stringify(stale)
    writeLock(dir, text)
    const claim = claimFileFor(lockFile(dir), text)
    // This process is "taking over"; it never finishes, so the other gives up after its wait.
    writeFileSync(claim, JSON.stringify(ownRecord({ port: 3005, host: '127.0.0.1' })))
    const started = Date.now()
    const out: Outcome = await spawnChild('hold').next()
    assert.equal(out.won, false)
    assert.equal(out.holderPid, process.pid)
    assert.match(out.message!, /is taking over the stale instance lock/)
    assert.ok(Date.now() - started >= 4000, 'it waited for the takeover to finish')
  })

  test('racing: of many starts at once, on a stale lock or on none, exactly one wins and the others name it', async () => {
    const racers = Array.from({ length: 10 }, () => spawnChild('race'))
    for (const r of racers) assert.deepEqual(await r.next(), { ready: true })
    for (let round = 0; round < 40; round++) {
      const onStale = round % 2 === 0
      if (onStale) writeLock(dir, staleRecord())
      const goAt = Date.now() + 50
      for (const r of racers) r.proc.stdin!.write(`go ${goAt}\n`)
      const outcomes: Outcome[] = await Promise.all(racers.map((r) => r.next()))
      const what = `round ${round} (${onStale ? 'stale lock' : 'no lock'}): ${JSON.stringify(outcomes)}`
      const winners = outcomes.filter((o) => o.won)
      assert.equal(winners.length, 1, what)
      const winner = winners[0].pid!
      assert.equal(readLock(dir).pid, winner, what)
      for (const o of outcomes.filter((x) => !x.won)) assert.equal(o.holderPid, winner, what)
      assert.deepEqual(readdirSync(dir), [INSTANCE_LOCK_FILE], `no claim or temporary file is left: ${what}`)
      for (const r of racers) r.proc.stdin!.write('release\n')
      await Promise.all(racers.map((r) => r.next()))
      assert.equal(existsSync(lockFile(dir)), false, 'the winner released it')
    }
    for (const r of racers) r.proc.stdin!.end()
    await Promise.all(racers.map((r) => r.exited))
  })

  test('released on normal exit, on SIGTERM and on SIGINT, and the signal still ends the process', async () => {
    const normal = spawnChild('hold')
    assert.equal((await normal.next()).won, true)
    normal.proc.stdin!.end()
    assert.equal((await normal.exited).code, 0)
    assert.equal(existsSync(lockFile(dir)), false)
    for (const sig of ['SIGTERM', 'SIGINT'] as const) {
      const c = spawnChild('signal')
      assert.equal((await c.next()).won, true)
      c.proc.kill(sig)
      assert.equal((await c.exited).signal, sig, `${sig} still terminates it`)
      assert.equal(existsSync(lockFile(dir)), false, `released on ${sig}`)
    }
  })

  test("with the launcher's own SIGTERM handler, the handler decides when to exit, and the lock goes with the exit", async () => {
    const c = spawnChild('graceful')
    assert.equal((await c.next()).won, true)
    c.proc.kill('SIGTERM')
    await new Promise((r) => setTimeout(r, 30))
    assert.equal(existsSync(lockFile(dir)), true, 'still held while the graceful stop runs')
    assert.equal((await c.exited).code, 0)
    assert.equal(existsSync(lockFile(dir)), false)
  })

  test('kill -9 leaves the lock behind, and the next start takes it over', async () => {
    const c = spawnChild('signal')
    const out = await c.next()
    assert.equal(out.won, true)
    c.proc.kill('SIGKILL')
    await c.exited
    assert.equal(readLock(dir).pid, out.pid, 'left behind')
    assert.equal(processStartTime(out.pid), undefined)
    const lock = acquireInstanceLock(dir, { port: 3000, host: '127.0.0.1' })
    held.push(lock)
    assert.equal(readLock(dir).pid, process.pid)
  })
})
