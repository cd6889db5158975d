import assert from 'node:assert/strict'
import { test } from 'node:test'
import { llmCause } from '../index'
import { boundEvidence } from '../evidence/bound'
import { container, record } from '../rules/faults/fixture'
import { validateAnalysis } from './parse'
import { buildMessages } from './prompt'

const answer = {
  root_cause: 'x',
  evidence: [],
  proposed_fix: null,
  risk_level: 'low',
  confidence: 0.5,
}

test('the evidence record goes into the prompt, redacted, in place of the facts; the answer asks for a cause', () => {
  const evidence = record({
    container: container({ envNames: ['DB_PASSWORD'] }),
    logs: { lines: ['ok'], errorLines: ['login failed password=hunter2'], linesRead: 1 },
    openIncidents: [{ id: 'inc_2', type: 'cpu', resource: 'other-service-x', status: 'open', openedAt: 'T' }],
  })
  const [system, user] = buildMessages({
    incident: { ...evidence.alert, fingerprint: 'f', severity: 'warning', labels: {}, source: 't' } as never,
    evidence,
    facts: { container: { exitCode: 1 } },
    logs: 'ok\n',
    catalog: [],
  })
  assert.match(user.content, /## Evidence gathered on the machine/)
  assert.doesNotMatch(user.content, /## Facts gathered on the machine/)
  assert.match(user.content, /DB_PASSWORD/)
  assert.doesNotMatch(user.content, /hunter2/)
  // Other incidents by type and state, not by what they are about.
  assert.match(user.content, /inc_2/)
  assert.doesNotMatch(user.content, /other-service-x/)
  assert.match(system.content, /"cause"/)
  assert.match(system.content, /memory_leak: /)
})

test('a full record and a full log tail stay within the prompt size of before (facts 4 KB + logs 8 KB) plus the record bound', () => {
  const huge = boundEvidence(
    record({
      container: container(),
      logs: {
        lines: Array.from({ length: 60 }, (_, i) => `line ${i} ${'y'.repeat(230)}`),
        errorLines: Array.from({ length: 8 }, (_, i) => `ERROR ${i} ${'z'.repeat(230)}`),
        linesRead: 200,
      },
    }),
  )
  const logs = Array.from({ length: 400 }, (_, i) => `log ${i} ${'w'.repeat(100)}`).join('\n')
  const [, user] = buildMessages({
    incident: { ...huge.alert, fingerprint: 'f', severity: 'warning', labels: {}, source: 't' } as never,
    evidence: huge,
    logs,
    catalog: [],
  })
  assert.ok(
    Buffer.byteLength(user.content) < 12 * 1024 + 8 * 1024 + 4 * 1024,
    `${Buffer.byteLength(user.content)} bytes`,
  )
})

test("the answer's cause: a known label is kept, an unknown one read as absent", () => {
  assert.equal(validateAnalysis({ ...answer, cause: 'oom' }, []).cause, 'oom')
  assert.equal(validateAnalysis({ ...answer, cause: 'gremlins' }, []).cause, undefined)
  assert.equal(validateAnalysis(answer, []).cause, undefined)
})

test("llmCause: the LLM's label, else the rules' when the action agrees, else unknown", () => {
  const rules = {
    cause: 'killed' as const,
    proposed_fix: { action: 'restart_container', params: { containerId: 'a' } },
  }
  assert.equal(llmCause({ cause: 'oom', proposed_fix: null }, rules), 'oom')
  assert.equal(
    llmCause({ proposed_fix: { action: 'restart_container', params: { containerId: 'a' } } }, rules),
    'killed',
  )
  assert.equal(llmCause({ cause: 'nonsense', proposed_fix: { action: 'scale_out', params: {} } }, rules), 'unknown')
  assert.equal(llmCause({ proposed_fix: null }, { cause: 'bad_config', proposed_fix: null }), 'bad_config')
})
