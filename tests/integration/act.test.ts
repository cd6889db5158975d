/**
 * Act, end to end on a real sandbox tree: a disk alert → the rule analyser finds the sandbox's
 * logs/temp/cache filling it → clean_sandbox (medium risk) waits for an operator → approved →
 * snapshot, clean into quarantine, verify, resolve. data/ and a symlink's target outside the
 * sandbox survive; a manual rollback restores every byte; a verification made to fail rolls back
 * by itself and escalates.
 */
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { waitFor } from '../helpers/ports'
import { startRedis, type TestRedis } from '../helpers/redis'
import { type SentinelInstance, startSentinel } from '../helpers/sentinel'

const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex')

function tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {}
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name)
      if (e.name === '.quarantine') continue
      if (e.isDirectory()) walk(p)
      else if (e.isFile()) out[path.relative(dir, p)] = sha(p)
      else if (e.isSymbolicLink()) out[path.relative(dir, p)] = 'symlink'
    }
  }
  walk(dir)
  return out
}

describe('act: clean_sandbox through the flow', () => {
  let redis: TestRedis
  let sentinel: SentinelInstance
  let root: string
  let sandbox: string
  let outside: string
  let writer: ChildProcess | undefined

  before(async () => {
    root = mkdtempSync(path.join(os.tmpdir(), 'sentinel-test-act-'))
    sandbox = path.join(root, 'sandbox')
    outside = path.join(root, 'outside-secret.txt')
    writeFileSync(outside, 'must survive')
    for (const d of ['logs', 'temp/nested/deep', 'cache', 'data']) mkdirSync(path.join(sandbox, d), { recursive: true })
    writeFileSync(path.join(sandbox, 'logs/app.log'), randomBytes(300_000))
    writeFileSync(path.join(sandbox, 'temp/nested/deep/blob.bin'), randomBytes(500_000))
    writeFileSync(path.join(sandbox, 'cache/c.dat'), randomBytes(200_000))
    writeFileSync(path.join(sandbox, 'data/keep.db'), randomBytes(50_000))
    symlinkSync(outside, path.join(sandbox, 'temp/link-outside'))
    redis = await startRedis()
    sentinel = await startSentinel({
      redisPort: redis.port,
      env: { SANDBOX_DIR: sandbox, VERIFY_STABLE_SECONDS: '0.5', VERIFY_TIMEOUT_SECONDS: '4' },
    })
  })
  after(async () => {
    writer?.kill('SIGKILL')
    await sentinel?.cleanup()
    await redis?.stop()
    rmSync(root, { recursive: true, force: true })
  })

  async function approvedDiskIncident(): Promise<string> {
    const trig = await sentinel.post('/api/trigger-alert', { type: 'disk', resource: '/', value: 97 })
    assert.equal(trig.status, 202, JSON.stringify(trig.body))
    const id = trig.body.incidentId as string
    const pending = await waitFor(
      async () => (await sentinel.get('/api/approvals/pending')).body.approvals.find((a: any) => a.incidentId === id),
      { timeoutMs: 30_000, what: 'the clean_sandbox approval' },
    ).catch(async (err) => {
      throw new Error(
        `${(err as Error).message}: ${JSON.stringify((await sentinel.get(`/api/incidents/${id}`)).body.timeline)}`,
      )
    })
    assert.equal(pending.proposedAction, 'clean_sandbox')
    assert.equal(pending.risk, 'medium')
    assert.equal((await sentinel.post(`/api/incidents/${id}/approve`, {}, 'operator')).status, 200)
    return id
  }

  it('cleans into quarantine, keeps data/ and what symlinks point at, and rolls back byte for byte', async () => {
    const before = tree(sandbox)
    const id = await approvedDiskIncident()
    const done = await waitFor(
      async () => {
        const r = (await sentinel.get(`/api/incidents/${id}`)).body
        return ['resolved', 'escalated'].includes(r.status) ? r : null
      },
      { timeoutMs: 45_000, what: 'the cleaning to finish' },
    )
    assert.equal(done.status, 'resolved', JSON.stringify(done.timeline.map((t: any) => t.summary)))
    const snapshot = done.snapshots.find((s: any) => s.actionId === 'clean_sandbox')
    assert.ok(snapshot, 'a snapshot was taken before acting')
    assert.match(JSON.stringify(snapshot.before), /blob\.bin/)
    const afterClean = tree(sandbox)
    assert.equal(afterClean['data/keep.db'], before['data/keep.db'])
    for (const gone of ['logs/app.log', 'temp/nested/deep/blob.bin', 'cache/c.dat', 'temp/link-outside'])
      assert.ok(!(gone in afterClean), `${gone} was cleaned`)
    assert.equal(readFileSync(outside, 'utf8'), 'must survive')

    const rb = await sentinel.post(`/api/incidents/${id}/rollback`, {}, 'admin')
    assert.equal(rb.status, 200, JSON.stringify(rb.body))
    assert.deepEqual(tree(sandbox), before, 'every file is back, byte for byte')
    assert.equal(
      (await sentinel.post(`/api/incidents/${id}/rollback`, {}, 'admin')).status,
      409,
      'a second rollback changes nothing',
    )
  })

  it('rolls back by itself and escalates when verification fails', async () => {
    const before = tree(sandbox)
    // Something keeps writing into temp/: the cleaned state never holds, so verification fails.
    writer = spawn(
      'sh',
      ['-c', `while true; do date > "${path.join(sandbox, 'temp')}/writer-$$-$(date +%s%N)"; sleep 0.05; done`],
      { stdio: 'ignore' },
    )
    const id = await approvedDiskIncident()
    const done = await waitFor(
      async () => {
        const r = (await sentinel.get(`/api/incidents/${id}`)).body
        return ['resolved', 'escalated'].includes(r.status) ? r : null
      },
      { timeoutMs: 60_000, what: 'the failed verification to escalate' },
    )
    writer.kill('SIGKILL')
    writer = undefined
    assert.equal(done.status, 'escalated')
    const stages = done.timeline.map((t: any) => t.stage)
    assert.ok(stages.includes('rolled_back'), `timeline: ${stages.join(', ')}`)
    const now = tree(sandbox)
    for (const [file, hash] of Object.entries(before)) assert.equal(now[file], hash, `${file} restored exactly`)
    const audit = (await sentinel.get(`/api/audit?incident=${id}`)).body.events.map(
      (e: any) => `${e.kind}:${e.outcome}`,
    )
    assert.ok(audit.includes('action.rolled_back:succeeded'), audit.join(' '))
    assert.ok(existsSync(path.join(sandbox, 'data/keep.db')))
  })
})
