/**
 * The analysis step with an LLM configured, against a local stand-in speaking OpenRouter's
 * chat-completions protocol to the real `openai` client inside a real Sentinel. Every case of the
 * spec (a well-formed answer, R1 reasoning, fenced JSON, broken JSON, an unknown action, 429 with
 * Retry-After, 500s, a hang past the deadline) goes through POST /api/trigger-alert and must end
 * in a stored analysis that names its analyser, and a policy decision; once with JSON replies and
 * once streamed (LLM_STREAM), one Sentinel each, every case at the same time (the stand-in tells
 * them apart by the resource name in the prompt). Then, with JSON: the LLM's fix is acted on, and
 * secrets never leave.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import {
  hang,
  isPostmortemDraft,
  reply,
  startFakeOpenRouter,
  status,
  type FakeOpenRouter,
  type ReceivedRequest,
  type Responder,
} from '../helpers/llm-standin'
import {
  docker,
  killMainProcess,
  removeContainers,
  runContainer,
  state,
  TEST_IMAGE,
  uniqueName,
} from '../helpers/docker'
import { waitFor } from '../helpers/ports'
import { startRedis, type TestRedis } from '../helpers/redis'
import { type SentinelInstance, startSentinel, WATCH_ARG, WATCHED } from '../helpers/sentinel'

// Short, so that the hang case ends soon; long enough for three failed attempts and their backoff.
const DEADLINE_SECONDS = 8
const USAGE = { prompt_tokens: 1000, completion_tokens: 250 }
const TOKENS_PER_REPLY = USAGE.prompt_tokens + USAGE.completion_tokens

const GOOD = {
  root_cause: 'Responses are slow because the cache directory is full.',
  evidence: ['p95 latency 240 ms over a 200 ms threshold'],
  proposed_fix: { action: 'clean_sandbox', params: {} },
  risk_level: 'medium',
  confidence: 0.8,
}
const good = () => reply(JSON.stringify(GOOD), { usage: USAGE })

interface Case {
  name: string
  responders: () => Responder[]
  analyser: 'llm' | 'rules'
  fallbackReason?: RegExp
  /** LLM replies that came back (their tokens are recorded even when the rules answer). */
  replies: number
  requests: number
  check?: (incident: any, sent: ReceivedRequest[]) => void
}

// The reasoning holds a decoy answer naming an action outside the catalog: parsing it would fail.
const DECOY = JSON.stringify({ ...GOOD, root_cause: 'decoy', proposed_fix: { action: 'rm_rf', params: {} } })

const CASES: Case[] = [
  { name: 'wellformed', responders: () => [good()], analyser: 'llm', replies: 1, requests: 1 },
  {
    name: 'reasoning',
    responders: () => [
      reply(`<think>The cache looks full. ${DECOY}</think>\n${JSON.stringify(GOOD)}`, {
        reasoning: `First the probe times. ${DECOY}`,
        usage: USAGE,
      }),
    ],
    analyser: 'llm',
    replies: 1,
    requests: 1,
    check: (i) => {
      assert.match(i.analysis.reasoning, /First the probe times\./)
      assert.match(i.analysis.reasoning, /The cache looks full\./)
      assert.equal(i.analysis.root_cause, GOOD.root_cause)
      assert.ok(!i.analysis.root_cause.includes('think'))
    },
  },
  {
    name: 'fenced',
    responders: () => [
      reply(`Sure! My analysis:\n\n\`\`\`json\n${JSON.stringify(GOOD, null, 2)}\n\`\`\`\n\nAnything else?`, {
        usage: USAGE,
      }),
    ],
    analyser: 'llm',
    replies: 1,
    requests: 1,
  },
  {
    name: 'broken',
    responders: () => [reply('{"root_cause": "oops", "evidence": [tru', { usage: USAGE }), good()],
    analyser: 'llm',
    replies: 2,
    requests: 2,
    check: (i) => {
      assert.deepEqual(
        i.analysis.attempts.map((a: any) => a.ok),
        [false, true],
      )
      assert.match(i.analysis.attempts[0].error, /unusable reply/)
    },
  },
  {
    name: 'unknownaction',
    responders: () => [
      reply(JSON.stringify({ ...GOOD, proposed_fix: { action: 'delete_everything', params: {} } }), { usage: USAGE }),
    ],
    analyser: 'rules',
    fallbackReason: /LLM failed after 3 attempt\(s\): unusable reply: .*delete_everything.*not in the catalog/,
    replies: 3,
    requests: 3,
  },
  {
    name: 'ratelimited',
    responders: () => [status(429, { 'retry-after': '1' }, 'rate limited'), good()],
    analyser: 'llm',
    replies: 1,
    requests: 2,
    check: (i, sent) => {
      assert.match(i.analysis.attempts[0].error, /HTTP 429/)
      // Retry-After (1 s) was waited out before the second call.
      assert.ok(sent[1].at - sent[0].at >= 950, `retried after ${sent[1].at - sent[0].at} ms`)
    },
  },
  {
    name: 'errorsthenok',
    responders: () => [status(500), status(502), good()],
    analyser: 'llm',
    replies: 1,
    requests: 3,
    check: (i) => {
      assert.match(i.analysis.attempts[0].error, /HTTP 500/)
      assert.match(i.analysis.attempts[1].error, /HTTP 502/)
    },
  },
  {
    name: 'errors',
    responders: () => [status(500)],
    analyser: 'rules',
    fallbackReason: /LLM failed after 3 attempt\(s\): HTTP 500/,
    replies: 0,
    requests: 3,
  },
  {
    name: 'hang',
    responders: () => [hang()],
    analyser: 'rules',
    fallbackReason: new RegExp(`deadline of ${DEADLINE_SECONDS * 1000} ms reached`),
    replies: 0,
    requests: 1,
  },
]

for (const stream of [false, true]) {
  describe(`LLM analysis in the flow (${stream ? 'streamed' : 'JSON'})`, () => {
    let redis: TestRedis
    let sentinel: SentinelInstance
    let llm: FakeOpenRouter
    const apiKey = 'sk-or-' + 'v1-' + randomBytes(24).toString('hex')
    const containers: string[] = []

    before(async () => {
      redis = await startRedis()
      llm = await startFakeOpenRouter()
      sentinel = await startSentinel({
        redisPort: redis.port,
        env: {
          OPENROUTER_API_KEY: apiKey,
          OPENROUTER_BASE_URL: llm.baseURL,
          LLM_STREAM: String(stream),
          LLM_DEADLINE_SECONDS: String(DEADLINE_SECONDS),
          VERIFY_STABLE_SECONDS: '0.5',
        },
      })
    })
    after(async () => {
      await removeContainers(...containers)
      await sentinel?.cleanup()
      await llm?.close()
      await redis?.stop()
    })

    const incident = async (id: string) => (await sentinel.get(`/api/incidents/${id}`)).body

    // Every case is triggered at once, on first use; each test then waits for its own.
    let runs: Map<string, Promise<{ incident: any; marker: string }>> | undefined
    const run = (name: string) => {
      runs ??= new Map(
        CASES.map((c) => {
          const marker = `llmcase-${c.name}-${stream ? 'sse' : 'json'}-${randomBytes(4).toString('hex')}`
          llm.scriptFor(marker, ...c.responders())
          const p = (async () => {
            const trig = await sentinel.post('/api/trigger-alert', { type: 'latency', resource: marker, value: 240 })
            assert.equal(trig.status, 202, JSON.stringify(trig.body))
            const decided = await waitFor(
              async () => {
                const i = await incident(trig.body.incidentId)
                return i.analysis && i.decision ? i : null
              },
              { timeoutMs: 120_000, intervalMs: 250, what: `the ${c.name} case to be analysed and decided` },
            )
            return { incident: decided, marker }
          })()
          p.catch(() => {})
          return [c.name, p] as const
        }),
      )
      return runs.get(name)!
    }

    for (const c of CASES) {
      it(`${c.name}: the stored analysis names its analyser (${c.analyser}), and a decision is recorded`, async () => {
        const { incident: i, marker } = await run(c.name)
        const sent = llm.requestsFor(marker).filter((r) => !isPostmortemDraft(r))
        assert.equal(sent.length, c.requests, 'calls the stand-in received')
        for (const r of sent) {
          assert.equal(!!r.body.stream, stream)
          assert.equal(r.headers.authorization, `Bearer ${apiKey}`)
        }
        const a = i.analysis
        assert.equal(a.analyser, c.analyser)
        if (c.analyser === 'llm') {
          assert.equal(a.fallbackReason, undefined)
          assert.equal(a.root_cause, GOOD.root_cause)
          assert.deepEqual(a.proposed_fix, GOOD.proposed_fix)
          assert.equal(a.attempts.at(-1).ok, true)
        } else {
          assert.match(a.fallbackReason, c.fallbackReason!)
          assert.ok(a.attempts.every((t: any) => !t.ok))
        }
        assert.equal(a.attempts.length, c.requests)
        assert.equal(a.model, 'deepseek/deepseek-r1')
        // Tokens and cost of every reply that came back, used or not.
        assert.deepEqual(a.tokens, {
          prompt: c.replies * USAGE.prompt_tokens,
          completion: c.replies * USAGE.completion_tokens,
          total: c.replies * TOKENS_PER_REPLY,
        })
        if (c.replies > 0) assert.ok(a.costUsd > 0)
        else assert.equal(a.costUsd, 0)
        if (c.name !== 'reasoning') assert.equal(a.reasoning, undefined)
        c.check?.(i, sent)

        const analysed = i.timeline.find((t: any) => t.stage === 'analyzed')
        assert.equal(analysed.data.analyser, c.analyser)
        assert.ok(i.timeline.some((t: any) => t.stage === 'decided'))
        // The decision follows the analysis: the LLM's medium-risk fix waits for an operator; the
        // rules know no fix for an endpoint without a container, so Sentinel verifies instead.
        if (c.analyser === 'llm') {
          assert.equal(i.decision.route, 'approval')
          assert.equal(i.decision.actionId, 'clean_sandbox')
          assert.equal(i.decision.approverRole, 'operator')
        } else {
          assert.equal(i.decision.route, 'defer')
          assert.equal(i.decision.rule, 'no-fix')
        }
      })
    }

    if (stream) return

    it("acts on the LLM's proposed fix and keeps its reasoning apart", async () => {
      const name = uniqueName('llm-fix')
      containers.push(name)
      await docker(
        'create',
        '--name',
        name,
        '--label',
        WATCH_ARG,
        TEST_IMAGE,
        'sh',
        '-c',
        'trap "exit 0" TERM; while true; do sleep 0.2; done',
      )
      const { Id } = JSON.parse(await docker('inspect', '--format', '{{json .}}', name)) as { Id: string }
      llm.scriptFor(
        name,
        reply(
          'Here is my analysis:\n```json\n' +
            JSON.stringify({
              root_cause: 'the service container is stopped',
              evidence: ['state is created, not running'],
              proposed_fix: { action: 'restart_container', params: { containerId: Id } },
              risk_level: 'low',
              confidence: 0.92,
            }) +
            '\n```',
          {
            reasoning: 'The container is not running; starting it is the safe fix.',
            usage: { prompt_tokens: 2000, completion_tokens: 500 },
          },
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
    })

    it('never sends secrets from the logs, and falls back to the rules when the LLM keeps failing', async () => {
      const name = uniqueName('llm-fallback')
      containers.push(name)
      llm.scriptFor(name, status(500))
      await runContainer(name, {
        labels: WATCHED,
        cmd: [
          'sh',
          '-c',
          'echo "connecting with password=hunter2-very-secret to postgres://app:s3cr3tpw@db:5432/x"; trap "exit 0" TERM; while true; do sleep 0.2; done',
        ],
      })
      await new Promise((r) => setTimeout(r, 300))
      await killMainProcess(name)
      const analysed = await waitFor(
        async () => {
          const [i] = (await sentinel.get(`/api/incidents?view=full&resource=${name}`)).body.incidents
          return i?.analysis ? i : null
        },
        { timeoutMs: 45_000, what: 'the analysis after the fast-path restart' },
      )
      assert.equal(analysed.analysis.analyser, 'rules')
      assert.match(analysed.analysis.fallbackReason, /LLM failed after 3 attempt/)
      assert.equal(analysed.analysis.attempts.length, 3)
      // The analysis's three attempts; a postmortem draft may follow once the incident closes,
      // and it too must carry no secret.
      const all = llm.requestsFor(name)
      const sent = all.filter((r) => !isPostmortemDraft(r))
      assert.equal(sent.length, 3)
      for (const r of all) {
        assert.ok(!r.raw.includes('hunter2-very-secret'), 'the password was redacted')
        assert.ok(!r.raw.includes('s3cr3tpw'), 'the connection string credentials were redacted')
      }
      assert.ok(
        sent.some((r) => r.raw.includes('connecting with')),
        'the log tail itself was sent',
      )
      // The fast path did not wait for any of this.
      const stages = analysed.timeline.map((t: any) => t.stage)
      assert.ok(stages.indexOf('acted') < stages.indexOf('analyzed'))
    })
  })
}
