/**
 * The LLM analyser through the REAL openai SDK against a local server speaking the
 * chat-completions protocol (JSON and SSE), driven through analyzeIncident so that every case
 * ends in a result naming the analyser that answered.
 */
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import { z } from 'zod'
import { analyzeIncident, type AnalyzeDeps } from '../index'
import { restartContainer } from '../../actions/restart-container/index'
import type { Alert } from '../../platform/store/model'
import { startRedis, type TestRedis } from '../../../tests/helpers/redis'
import { analyseWithLlm } from './analyser'
import { catalogFromActions } from './catalog'
import { hang, reply, startFakeOpenRouter, status, type FakeOpenRouter } from '../../../tests/helpers/llm-standin'

const containerId = z.object({
  containerId: z
    .string()
    .min(1)
    .max(128)
    .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/),
})
const CATALOG = catalogFromActions([
  restartContainer,
  {
    id: 'clean_sandbox',
    risk: 'medium',
    description: 'Delete sandbox logs, temp and cache.',
    params: z.object({}).strict(),
  },
  { id: 'scale_out', risk: 'medium', description: 'Start another replica.', params: containerId },
  {
    id: 'update_memory_limit',
    risk: 'medium',
    description: 'Change the memory limit.',
    params: z.object({
      containerId: containerId.shape.containerId,
      memoryBytes: z
        .number()
        .int()
        .min(4 * 1024 * 1024),
    }),
  },
  {
    id: 'kill_process',
    risk: 'high',
    description: 'Kill an allow-listed process.',
    params: z.object({ pid: z.number().int().min(2) }),
  },
])

// Secrets planted in what the analyser reads; none of them may reach the server.
const SECRETS = {
  openrouter: 'sk-or-' + 'v1-4f9a2c0e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a39',
  slack: 'xoxb-' + '2024113355-9988776655-AbCdEfGhIjKlMnOpQrStUv',
  aws: 'AKIA' + 'QWERTYUIOPASDFGH',
  jwt: 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJvcHMiLCJpYXQiOjE3MDAwMDAwMDB9.Q2hhbmdlTWVQbGVhc2VUaGlzSXNBU2lnbmF0dXJl',
  bearer: 'tok_live_7Hq2Zp9Lx4Vb8Nc1',
  password: 'Tr0ub4dor&3horse',
  dbPassword: 'pgS3cretPass',
  email: 'jane.doe@corp-example.com',
  labelPassword: 'label-hunter2-secret',
}

const LOGS = [
  'starting payment worker',
  `connecting with OPENROUTER_API_KEY=${SECRETS.openrouter}`,
  `slack token ${SECRETS.slack} loaded`,
  `aws key ${SECRETS.aws}`,
  `GET /api Authorization: Bearer ${SECRETS.bearer}`,
  `session ${SECRETS.jwt}`,
  `login failed password=${SECRETS.password}`,
  `db url postgres://app:${SECRETS.dbPassword}@db.internal:5432/pay`,
  `mail to ${SECRETS.email} bounced`,
  'ERROR: upstream timed out after 5000 ms',
].join('\n')

function alert(): Alert {
  return {
    fingerprint: 'latency:https://pay.internal/health',
    type: 'latency',
    severity: 'warning',
    metric: 'probe_duration_seconds',
    value: 4.2,
    threshold: 1,
    resource: { kind: 'endpoint', id: 'https://pay.internal/health', name: 'pay health' },
    labels: { owner: SECRETS.email, db_password: SECRETS.labelPassword, team: 'payments' },
    source: 'blackbox probe',
    at: new Date().toISOString(),
    details: {
      probes: [{ url: 'https://pay.internal/health', status: 200, ms: 4200 }],
      note: `contact ${SECRETS.email}`,
    },
  }
}

const GOOD = {
  root_cause: 'The payment service is slow because its upstream times out.',
  evidence: ['ERROR: upstream timed out after 5000 ms', 'probe took 4200 ms'],
  proposed_fix: { action: 'restart_container', params: { containerId: 'pay-api' } },
  risk_level: 'low',
  confidence: 0.72,
}

const HISTORY: Array<[number, number]> = Array.from({ length: 300 }, (_, i) => [
  Date.now() - (300 - i) * 10_000,
  i < 280 ? 0.2 : 4.2,
])

let server: FakeOpenRouter
let redis: TestRedis
let sandbox: string

function deps(extra: Partial<AnalyzeDeps['llm']> = {}, more: Partial<AnalyzeDeps> = {}): AnalyzeDeps {
  return {
    catalog: CATALOG,
    llm: {
      apiKey: 'sk-or-' + 'v1-test-key-for-the-local-server-only',
      baseURL: server.baseURL,
      deadlineMs: 10_000,
      backoffBaseMs: 20,
      ...extra,
    },
    history: HISTORY,
    logs: LOGS,
    rules: { sandboxDir: sandbox },
    ...more,
  }
}

function assertNoSecretsReached() {
  assert.ok(server.requests.length > 0, 'the server received requests')
  for (const r of server.requests) {
    for (const [name, secret] of Object.entries(SECRETS)) {
      assert.ok(!r.raw.includes(secret), `secret ${name} reached the server`)
    }
    assert.match(r.raw, /\[REDACTED\]/)
    assert.match(r.raw, /\[EMAIL\]/)
  }
}

before(async () => {
  server = await startFakeOpenRouter()
  redis = await startRedis()
  sandbox = mkdtempSync(path.join(os.tmpdir(), 'sentinel-test-llm-sandbox-'))
  for (const d of ['logs', 'temp', 'cache', 'data']) mkdirSync(path.join(sandbox, d))
  writeFileSync(path.join(sandbox, 'logs', 'app.log'), 'x'.repeat(1000))
})

after(async () => {
  await server.close()
  await redis.stop()
  rmSync(sandbox, { recursive: true, force: true })
})

for (const stream of [false, true]) {
  describe(`LLM analysis (${stream ? 'SSE stream' : 'JSON response'})`, () => {
    test('a well-formed answer is the result, with tokens and cost', async () => {
      server.script(reply(JSON.stringify(GOOD), { usage: { prompt_tokens: 1000, completion_tokens: 500 } }))
      const r = await analyzeIncident(alert(), deps({ stream, pricing: { inputPerMillion: 2, outputPerMillion: 10 } }))
      assert.equal(r.analyser, 'llm')
      assert.equal(r.fallbackReason, undefined)
      assert.equal(r.root_cause, GOOD.root_cause)
      assert.deepEqual(r.proposed_fix, GOOD.proposed_fix)
      assert.equal(r.risk_level, 'low')
      assert.equal(r.confidence, 0.72)
      assert.deepEqual(r.tokens, { prompt: 1000, completion: 500, total: 1500 })
      assert.equal(r.costUsd, 0.007)
      assert.equal(r.attempts.length, 1)
      assert.equal(r.attempts[0].ok, true)
      assert.equal(server.requests.length, 1)
      const body = server.requests[0].body
      assert.equal(body.model, 'deepseek/deepseek-r1')
      assert.equal(!!body.stream, stream)
      assert.equal(server.requests[0].headers.authorization, 'Bearer sk-or-' + 'v1-test-key-for-the-local-server-only')
      // The catalog goes out with each action's JSON schema; the history is downsampled.
      const prompt = body.messages.map((m: { content: string }) => m.content).join('\n')
      assert.match(prompt, /update_memory_limit/)
      assert.match(prompt, /"memoryBytes"/)
      assert.match(prompt, /upstream timed out/)
      assert.ok((prompt.match(/Z 0\.2\n/g) ?? []).length < 100, 'history is downsampled')
      assertNoSecretsReached()
    })

    test('R1 reasoning (reasoning field and <think> block) is kept apart, never parsed', async () => {
      // The reasoning holds a decoy JSON object naming an unknown action: parsing it would fail.
      const decoy =
        '{"root_cause":"decoy","evidence":[],"proposed_fix":{"action":"rm_rf","params":{}},"risk_level":"high","confidence":1}'
      server.script(
        reply(`<think>Looking at the logs... maybe ${decoy}</think>\n${JSON.stringify(GOOD)}`, {
          reasoning: `First I check the probe. ${decoy}`,
        }),
      )
      const r = await analyzeIncident(alert(), deps({ stream }))
      assert.equal(r.analyser, 'llm')
      assert.equal(r.root_cause, GOOD.root_cause)
      assert.ok(r.reasoning?.includes('First I check the probe.'))
      assert.ok(r.reasoning?.includes('Looking at the logs'))
      assert.equal(r.attempts.length, 1)
    })

    test('fenced JSON inside chatty text is extracted', async () => {
      server.script(
        reply(
          `Sure! Here is my analysis:\n\n\`\`\`json\n${JSON.stringify(GOOD, null, 2)}\n\`\`\`\n\nLet me know if you need more.`,
        ),
      )
      const r = await analyzeIncident(alert(), deps({ stream }))
      assert.equal(r.analyser, 'llm')
      assert.deepEqual(r.proposed_fix, GOOD.proposed_fix)
    })

    test('broken JSON is a failed attempt, retried; the next good reply wins', async () => {
      server.script(
        reply('{"root_cause": "oops", "evidence": [tru'),
        reply(`The answer: ${JSON.stringify(GOOD)} -- hope it helps`),
      )
      const r = await analyzeIncident(alert(), deps({ stream }))
      assert.equal(r.analyser, 'llm')
      assert.equal(r.attempts.length, 2)
      assert.equal(r.attempts[0].ok, false)
      assert.match(r.attempts[0].error!, /unusable reply/)
      assert.equal(server.requests.length, 2)
    })
  })
}

describe('LLM failures and resilience', () => {
  test('an unknown action on every attempt falls back to the rules', async () => {
    server.script(reply(JSON.stringify({ ...GOOD, proposed_fix: { action: 'delete_everything', params: {} } })))
    const r = await analyzeIncident(alert(), deps())
    assert.equal(r.analyser, 'rules')
    assert.match(r.fallbackReason!, /not in the catalog/)
    assert.equal(r.attempts.length, 3)
    assert.ok(r.attempts.every((a) => !a.ok))
    assert.equal(server.requests.length, 3)
    // Tokens spent on the failed attempts are still counted.
    assert.equal(r.tokens!.total, 3 * 1500)
  })

  test('params that fail the action schema are a failed attempt', async () => {
    server.script(
      reply(
        JSON.stringify({
          ...GOOD,
          proposed_fix: { action: 'update_memory_limit', params: { containerId: 'pay-api', memoryBytes: 'lots' } },
        }),
      ),
      reply(JSON.stringify({ ...GOOD, proposed_fix: { action: 'clean_sandbox', params: {} } })),
    )
    const r = await analyzeIncident(alert(), deps())
    assert.equal(r.analyser, 'llm')
    assert.match(r.attempts[0].error!, /params for update_memory_limit are invalid/)
    assert.deepEqual(r.proposed_fix, { action: 'clean_sandbox', params: {} })
  })

  test('proposed_fix null is a valid answer', async () => {
    server.script(reply(JSON.stringify({ ...GOOD, proposed_fix: null, risk_level: 'low' })))
    const r = await analyzeIncident(alert(), deps())
    assert.equal(r.analyser, 'llm')
    assert.equal(r.proposed_fix, null)
  })

  test('429 with Retry-After is waited out, then succeeds', async () => {
    server.script(status(429, { 'retry-after': '1' }, 'rate limited'), reply(JSON.stringify(GOOD)))
    const r = await analyzeIncident(alert(), deps({ backoffBaseMs: 1 }))
    assert.equal(r.analyser, 'llm')
    assert.equal(r.attempts.length, 2)
    assert.match(r.attempts[0].error!, /HTTP 429/)
    assert.equal(server.requests.length, 2)
    const gap = server.requests[1].at - server.requests[0].at
    assert.ok(gap >= 950, `the retry waited for Retry-After (gap ${gap} ms)`)
  })

  test('a Retry-After past the deadline ends the attempts at once', async () => {
    server.script(status(429, { 'retry-after': '120' }))
    const r = await analyzeIncident(alert(), deps({ deadlineMs: 5000 }))
    assert.equal(r.analyser, 'rules')
    assert.match(r.fallbackReason!, /Retry-After 120 s is past the deadline/)
    assert.equal(server.requests.length, 1)
  })

  test('500s then success', async () => {
    server.script(status(500), status(502), reply(JSON.stringify(GOOD)))
    const r = await analyzeIncident(alert(), deps())
    assert.equal(r.analyser, 'llm')
    assert.deepEqual(
      r.attempts.map((a) => a.ok),
      [false, false, true],
    )
    assert.match(r.attempts[0].error!, /HTTP 500/)
    assert.match(r.attempts[1].error!, /HTTP 502/)
  })

  test('500 on every attempt falls back to the rules', async () => {
    server.script(status(500))
    const r = await analyzeIncident(alert(), deps())
    assert.equal(r.analyser, 'rules')
    assert.match(r.fallbackReason!, /LLM failed after 3 attempt\(s\): HTTP 500/)
    assert.equal(server.requests.length, 3)
    // The rules answered: the latency rule for an endpoint without a container.
    assert.match(r.root_cause, /slow/)
    assert.ok(r.evidence.some((e) => e.includes('4200 ms')))
    assertNoSecretsReached()
  })

  test('a 401 is not retried', async () => {
    server.script(status(401, {}, 'bad key'))
    const r = await analyzeIncident(alert(), deps())
    assert.equal(r.analyser, 'rules')
    assert.match(r.fallbackReason!, /HTTP 401/)
    assert.equal(server.requests.length, 1)
  })

  for (const stream of [false, true]) {
    test(`a hang past the deadline falls back to the rules within the deadline (${stream ? 'stream' : 'json'})`, async () => {
      server.script(hang())
      const deadlineMs = 1500
      const r = await analyzeIncident(alert(), deps({ deadlineMs, stream }))
      assert.equal(r.analyser, 'rules')
      assert.match(r.fallbackReason!, /deadline of 1500 ms reached/)
      const spent = r.attempts.reduce((s, a) => s + a.ms, 0)
      // Generous slack for a busy machine; without the deadline the call would never end.
      assert.ok(spent < deadlineMs + 3000, `LLM time ${spent} ms`)
      assert.equal(server.requests.length, 1)
    })
  }

  test('a timed-out attempt is retried when time is left', async () => {
    server.script(hang(), reply(JSON.stringify(GOOD)))
    const r = await analyzeIncident(alert(), deps({ attemptTimeoutMs: 500, deadlineMs: 10_000 }))
    assert.equal(r.analyser, 'llm')
    assert.match(r.attempts[0].error!, /timed out/)
    assert.equal(r.attempts.length, 2)
  })

  test('no API key: rules, and the server is never called', async () => {
    server.script(reply(JSON.stringify(GOOD)))
    const r = await analyzeIncident(alert(), deps({ apiKey: undefined }))
    assert.equal(r.analyser, 'rules')
    assert.equal(r.fallbackReason, 'no OPENROUTER_API_KEY')
    assert.equal(server.requests.length, 0)
  })
})

describe('hourly token budget (real Redis)', () => {
  test('calls are counted per hour; past the budget the LLM is not called', async () => {
    const prefix = `sentinel-test-budget-${Math.random().toString(36).slice(2)}`
    server.script(reply(JSON.stringify(GOOD), { usage: { prompt_tokens: 400, completion_tokens: 200 } }))
    const d = deps(
      { pricing: { inputPerMillion: 1, outputPerMillion: 4 } },
      { redis: redis.client, hourlyTokenBudget: 1000, budgetKeyPrefix: prefix },
    )
    const first = await analyzeIncident(alert(), d)
    assert.equal(first.analyser, 'llm')
    assert.equal(first.costUsd, 0.0012)
    const hour = new Date().toISOString().slice(0, 13)
    assert.equal(await redis.client.get(`${prefix}:tokens:${hour}`), '600')
    assert.equal(Number(await redis.client.get(`${prefix}:usd:${hour}`)), 0.0012)
    const ttl = await redis.client.ttl(`${prefix}:tokens:${hour}`)
    assert.ok(ttl > 3600 && ttl <= 7200)

    const second = await analyzeIncident(alert(), d)
    assert.equal(second.analyser, 'llm')
    assert.equal(await redis.client.get(`${prefix}:tokens:${hour}`), '1200')

    const third = await analyzeIncident(alert(), d)
    assert.equal(third.analyser, 'rules')
    assert.match(third.fallbackReason!, /budget spent/)
    assert.equal(server.requests.length, 2, 'the third incident never reached the LLM')
  })

  test('an unreachable budget counter stops the LLM (fail closed)', async () => {
    const { Redis } = await import('ioredis')
    const dead = new Redis({
      port: 1,
      host: '127.0.0.1',
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      enableOfflineQueue: false,
    })
    dead.on('error', () => {})
    server.script(reply(JSON.stringify(GOOD)))
    try {
      const r = await analyzeIncident(alert(), deps({}, { redis: dead }))
      assert.equal(r.analyser, 'rules')
      assert.match(r.fallbackReason!, /budget unavailable/)
      assert.equal(server.requests.length, 0)
    } finally {
      dead.disconnect()
    }
  })
})

test('analyseWithLlm can be used directly and is cancellable from outside', async () => {
  server.script(hang())
  const ctl = new AbortController()
  setTimeout(() => ctl.abort(new Error('shutting down')), 300)
  const out = await analyseWithLlm(
    { incident: alert(), catalog: CATALOG, logs: LOGS },
    { apiKey: 'k', baseURL: server.baseURL, deadlineMs: 10_000, signal: ctl.signal },
  )
  assert.equal(out.ok, false)
  if (!out.ok) assert.match(out.error, /cancelled: shutting down/)
  assert.equal(out.attempts.length, 1)
})
