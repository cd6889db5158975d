/**
 * The analysis step with an LLM configured, against a local stand-in speaking OpenRouter's
 * chat-completions protocol to the real `openai` client inside Sentinel: the LLM's answer drives
 * the decision, R1's reasoning is kept apart, secrets never leave, tokens and cost are recorded,
 * and when the LLM keeps failing the rule analyser answers and says why.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { startFakeOpenRouter, reply, status, type FakeOpenRouter } from '../../src/llm/test-server'
import { docker, killMainProcess, removeContainers, runContainer, state, TEST_IMAGE, uniqueName } from '../helpers/docker'
import { waitFor } from '../helpers/ports'
import { startRedis, type TestRedis } from '../helpers/redis'
import { type SentinelInstance, startSentinel } from '../helpers/sentinel'

describe('LLM analysis in the flow', () => {
  let redis: TestRedis
  let sentinel: SentinelInstance
  let llm: FakeOpenRouter
  const containers: string[] = []

  before(async () => {
    redis = await startRedis()
    llm = await startFakeOpenRouter()
    sentinel = await startSentinel({
      redisPort: redis.port,
      env: { OPENROUTER_API_KEY: 'sk-or-' + 'v1-test-not-a-real-key-000000000000', OPENROUTER_BASE_URL: llm.baseURL, LLM_DEADLINE_SECONDS: '8', VERIFY_STABLE_SECONDS: '0.5' },
    })
  })
  after(async () => {
    await removeContainers(...containers)
    await sentinel?.cleanup()
    await llm?.close()
    await redis?.stop()
  })

  const incident = async (id: string) => (await sentinel.get(`/api/incidents/${id}`)).body

  it("acts on the LLM's proposed fix and keeps its reasoning apart", async () => {
    const name = uniqueName('llm-fix')
    containers.push(name)
    await docker('create', '--name', name, '--label', 'sentinel.watch=true', TEST_IMAGE, 'sh', '-c', 'trap "exit 0" TERM; while true; do sleep 0.2; done')
    const { Id } = JSON.parse(await docker('inspect', '--format', '{{json .}}', name)) as { Id: string }
    llm.script(
      reply(
        'Here is my analysis:\n```json\n' +
          JSON.stringify({ root_cause: 'the service container is stopped', evidence: ['state is created, not running'], proposed_fix: { action: 'restart_container', params: { containerId: Id } }, risk_level: 'low', confidence: 0.92 }) +
          '\n```',
        { reasoning: 'The container is not running; starting it is the safe fix.', usage: { prompt_tokens: 2000, completion_tokens: 500 } },
      ),
    )
    const trig = await sentinel.post('/api/trigger-alert', { type: 'container_down', resource: name })
    assert.equal(trig.status, 202)
    const done = await waitFor(
      async () => {
        const i = await incident(trig.body.incidentId)
        return i.status === 'resolved' ? i : null
      },
      { timeoutMs: 45_000, what: 'the LLM-driven fix to resolve' },
    )
    assert.equal(done.analysis.analyser, 'llm')
    assert.equal(done.analysis.root_cause, 'the service container is stopped')
    assert.equal(done.analysis.reasoning, 'The container is not running; starting it is the safe fix.')
    assert.equal(done.analysis.tokens.total, 2500)
    assert.ok(done.analysis.costUsd > 0)
    assert.equal(done.decision.route, 'auto')
    assert.equal(done.decision.actionId, 'restart_container')
    assert.equal((await state(name)).Running, true)
    assert.equal(llm.requests.at(-1)!.headers.authorization, 'Bearer sk-or-' + 'v1-test-not-a-real-key-000000000000')
  })

  it('never sends secrets from the logs, and falls back to the rules when the LLM keeps failing', async () => {
    llm.script(status(500))
    const before = llm.requests.length
    const name = uniqueName('llm-fallback')
    containers.push(name)
    await runContainer(name, {
      labels: { 'sentinel.watch': 'true' },
      cmd: ['sh', '-c', 'echo "connecting with password=hunter2-very-secret to postgres://app:s3cr3tpw@db:5432/x"; trap "exit 0" TERM; while true; do sleep 0.2; done'],
    })
    await new Promise((r) => setTimeout(r, 300))
    await killMainProcess(name)
    const analysed = await waitFor(
      async () => {
        const [i] = (await sentinel.get(`/api/incidents?resource=${name}`)).body.incidents
        return i?.analysis ? i : null
      },
      { timeoutMs: 45_000, what: 'the analysis after the fast-path restart' },
    )
    assert.equal(analysed.analysis.analyser, 'rules')
    assert.match(analysed.analysis.fallbackReason, /LLM failed after 3 attempt/)
    assert.equal(analysed.analysis.attempts.length, 3)
    const sent = llm.requests.slice(before)
    assert.equal(sent.length, 3)
    for (const r of sent) {
      assert.ok(!r.raw.includes('hunter2-very-secret'), 'the password was redacted')
      assert.ok(!r.raw.includes('s3cr3tpw'), 'the connection string credentials were redacted')
    }
    assert.ok(sent.some((r) => r.raw.includes('connecting with')), 'the log tail itself was sent')
    // The fast path did not wait for any of this.
    const stages = analysed.timeline.map((t: any) => t.stage)
    assert.ok(stages.indexOf('acted') < stages.indexOf('analyzed'))
  })
})
