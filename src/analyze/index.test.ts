import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { test } from 'node:test'
import { loadConfig } from '../platform/config/index'
import { analysisSettings } from './analysis'
import { analyzeIncident, DEFAULT_HOURLY_TOKEN_BUDGET } from './index'

test('the analysis settings come from the configuration (OPENROUTER_* and LLM_*), with its defaults', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sentinel-test-analyze-'))
  try {
    const d = analysisSettings(loadConfig({}, dir))
    assert.equal(d.llm?.apiKey, undefined)
    assert.equal(d.llm?.deadlineMs, 30_000)
    assert.equal(d.llm?.maxAttempts, 3)
    assert.equal(d.llm?.stream, false)
    assert.equal(d.hourlyTokenBudget, DEFAULT_HOURLY_TOKEN_BUDGET)
    assert.deepEqual(d.llm?.pricing, { inputPerMillion: 0.55, outputPerMillion: 2.19 })
    const e = analysisSettings(
      loadConfig(
        {
          OPENROUTER_API_KEY: ' sk-or-v1-x ',
          OPENROUTER_BASE_URL: 'http://127.0.0.1:9/api/v1',
          OPENROUTER_MODEL: 'deepseek/deepseek-r1:free',
          LLM_STREAM: 'true',
          LLM_DEADLINE_SECONDS: '12',
          LLM_HOURLY_TOKEN_BUDGET: '0',
          LLM_PRICE_INPUT_PER_MTOK: '1.5',
          SANDBOX_DIR: '/tmp/sb',
        },
        dir,
      ),
    )
    assert.equal(e.llm?.apiKey, 'sk-or-v1-x')
    assert.equal(e.llm?.baseURL, 'http://127.0.0.1:9/api/v1')
    assert.equal(e.llm?.model, 'deepseek/deepseek-r1:free')
    assert.equal(e.llm?.stream, true)
    assert.equal(e.llm?.deadlineMs, 12_000)
    assert.equal(e.hourlyTokenBudget, 0)
    assert.equal(e.llm?.pricing?.inputPerMillion, 1.5)
    assert.equal(e.sandboxDir, '/tmp/sb')
    // A bad number is no longer replaced by its default here: it stops the start, named.
    assert.throws(
      () => loadConfig({ LLM_MAX_ATTEMPTS: 'x' }, dir),
      /LLM_MAX_ATTEMPTS: expected a whole number from 1 to 10, got "x"/,
    )
  } finally {
    rmSync(dir, { recursive: true })
  }
})

test('a budget of 0 keeps the LLM from being called', async () => {
  const r = await analyzeIncident(
    {
      fingerprint: 'f',
      type: 'anomaly',
      severity: 'info',
      metric: 'queue_depth',
      value: 5,
      threshold: null,
      resource: { kind: 'series', id: 'q', name: 'q' },
      labels: {},
      source: 'test',
      at: new Date().toISOString(),
    },
    // The base URL is a closed port: reaching it would fail differently.
    { catalog: [], llm: { apiKey: 'k', baseURL: 'http://127.0.0.1:9/api/v1' }, hourlyTokenBudget: 0 },
  )
  assert.equal(r.analyser, 'rules')
  assert.equal(r.fallbackReason, 'LLM token budget is 0')
  assert.deepEqual(r.attempts, [])
})
