/**
 * Issue #25 against a real Sentinel with an LLM stand-in (OpenRouter's wire protocol to the real
 * client): a runbook added as a file while Sentinel runs is matched, given to the LLM and cited
 * in the stored analysis; the second death of a container recalls the first incident (in the
 * analysis and in the prompt); and secrets the container wrote to its log reach neither the LLM
 * nor the incident the page shows, while the log line itself does (so the redaction is what kept
 * them out, not a log that was never read).
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { IDLE_UNTIL_TERM, killMainProcess, removeContainers, runContainer, uniqueName } from '../helpers/docker'
import { isPostmortemDraft, reply, startFakeOpenRouter, type FakeOpenRouter } from '../helpers/llm-standin'
import { waitFor } from '../helpers/ports'
import { startRedis, type TestRedis } from '../helpers/redis'
import { incidentsFor, type SentinelInstance, startSentinel, WATCHED } from '../helpers/sentinel'

describe('root cause: runbooks, memory, redaction (real Sentinel, LLM stand-in)', () => {
  let redis: TestRedis
  let sentinel: SentinelInstance
  let llm: FakeOpenRouter
  const runbooks = mkdtempSync(path.join(os.tmpdir(), 'sentinel-test-runbooks-'))
  const name = uniqueName('rca')
  const password = `pw-${randomBytes(8).toString('hex')}`
  const token = `tok${randomBytes(16).toString('hex')}`
  const runbookId = `rca-${randomBytes(3).toString('hex')}`

  before(async () => {
    redis = await startRedis()
    llm = await startFakeOpenRouter()
    // The LLM agrees with the rules: the process was killed, restart it.
    llm.script(
      reply(
        JSON.stringify({
          root_cause: 'The main process was killed by a signal.',
          evidence: ['exit code 137'],
          proposed_fix: null,
          risk_level: 'low',
          confidence: 0.7,
          cause: 'killed',
        }),
      ),
    )
    sentinel = await startSentinel({
      redisPort: redis.port,
      env: {
        OPENROUTER_API_KEY: `test-llm-${randomBytes(6).toString('hex')}`,
        OPENROUTER_BASE_URL: llm.baseURL,
        RUNBOOKS_DIR: runbooks,
      },
    })
    await runContainer(name, {
      labels: WATCHED,
      cmd: [
        'sh',
        '-c',
        `echo "db login user=app password=${password}"; echo "Authorization: Bearer ${token}"; echo ready; ${IDLE_UNTIL_TERM}`,
      ],
    })
  })
  after(async () => {
    await removeContainers(name)
    await sentinel?.cleanup()
    await llm?.close()
    await redis?.stop()
    rmSync(runbooks, { recursive: true, force: true })
  })

  /** The newest incident of the container once its analysis is stored, and the prompts sent for it. */
  async function analysedIncident(notId?: string) {
    const incident = await waitFor(
      async () => {
        const [inc] = await incidentsFor(sentinel, name)
        return inc && inc.id !== notId && inc.analysis?.analyser ? inc : null
      },
      { timeoutMs: 60_000, what: `the analysis of ${name}'s incident` },
    )
    return {
      incident,
      prompts: llm
        .requestsFor(incident.id)
        .filter((r) => !isPostmortemDraft(r))
        .map((r) => r.raw),
    }
  }

  let first: any
  it('matches a runbook added while Sentinel runs, gives it to the LLM and cites it; secrets stay out', async () => {
    // Written after the start: no restart, no code.
    writeFileSync(
      path.join(runbooks, `${runbookId}.md`),
      `---\nid: ${runbookId}\ntitle: ${name} dies\nmatch:\n  type: container_down\n  resource: "${name}"\naction: restart_container\n---\nRestart it; page the owners if it dies twice in an hour.\n`,
    )
    await killMainProcess(name)
    const { incident, prompts } = await analysedIncident()
    first = incident
    const a = incident.analysis
    assert.equal(a.analyser, 'llm', JSON.stringify(a.fallbackReason))
    assert.equal(a.cause, 'killed')
    assert.equal(a.runbook?.id, runbookId)
    assert.match(a.runbook.body, /page the owners/)
    assert.ok(
      a.evidence.some((l: string) => l.startsWith(`runbook ${runbookId}:`)),
      `no citation in ${JSON.stringify(a.evidence)}`,
    )
    // The runbook's action is preferred over the LLM's "no fix", on this incident's container.
    assert.equal(a.proposed_fix?.action, 'restart_container')
    assert.equal(a.proposed_fix?.params?.containerId, incident.resource.id)
    assert.ok(prompts.length >= 1, 'the LLM was asked')
    assert.ok(
      prompts.some((p) => p.includes(`## Runbook ${runbookId}`)),
      'the runbook in the prompt',
    )

    // The log line was read (the evidence has it), its secrets were not sent nor stored.
    const record = JSON.stringify(a.evidenceRecord)
    assert.match(record, /db login user=app/)
    const full = await sentinel.get(`/api/incidents/${incident.id}`)
    assert.equal(full.status, 200)
    for (const secret of [password, token]) {
      for (const p of prompts) assert.ok(!p.includes(secret), 'a secret in the prompt')
      assert.ok(!JSON.stringify(full.body).includes(secret), 'a secret in the incident the page shows')
    }
  })

  it('recalls the first incident when the container dies again', async () => {
    assert.ok(first, 'the first case ran')
    await waitFor(async () => ((await incidentsFor(sentinel, name))[0]?.status === 'resolved' ? true : null), {
      timeoutMs: 60_000,
      what: 'the first incident to resolve',
    })
    await killMainProcess(name)
    const { incident, prompts } = await analysedIncident(first.id)
    const similar = incident.analysis.similar ?? []
    assert.equal(similar[0]?.id, first.id, JSON.stringify(similar))
    assert.equal(similar[0].fix?.action, 'restart_container')
    assert.ok(
      incident.analysis.evidence.some((l: string) => l.startsWith(`seen before: ${first.id}`)),
      JSON.stringify(incident.analysis.evidence),
    )
    assert.ok(
      prompts.some((p) => p.includes(first.id)),
      'the past incident in the prompt',
    )
  })
})
