import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, describe, it } from 'node:test'
import type { Alert } from '../platform/store/model'
import { applyGuidance, gatherGuidance } from './guidance'
import { buildMessages } from './llm/prompt'
import type { PastIncident } from './memory'
import { container, MiB, record } from './rules/faults/fixture'

const dir = mkdtempSync(path.join(tmpdir(), 'guidance-'))
after(() => rmSync(dir, { recursive: true, force: true }))
writeFileSync(
  path.join(dir, 'web-oom.md'),
  '---\ntitle: Web runs out of memory\nmatch:\n  resource: "web-*"\n  cause: oom\naction: update_memory_limit\n---\nRaise it; tell the web team.\n',
)
writeFileSync(path.join(dir, 'broken.md'), 'no front matter')

const alert: Alert = {
  fingerprint: 'container_down:web-1',
  type: 'container_down',
  severity: 'critical',
  metric: 'container_running',
  value: 0,
  threshold: 1,
  resource: { kind: 'container', id: 'c'.repeat(64), name: 'web-1' },
  labels: {},
  source: 'docker',
  at: new Date().toISOString(),
}
const PAST: PastIncident = {
  id: 'inc_before_1',
  openedAt: '2026-11-30T10:00:00.000Z',
  type: 'container_down',
  status: 'resolved',
  cause: 'oom',
  rootCause: 'OOM-killed at 64 MiB',
  fix: { action: 'update_memory_limit', status: 'succeeded' },
}

describe('guidance: runbook and memory', () => {
  it('finds the runbook for the cause, recalls the past, and names what could not be read', async () => {
    const g = await gatherGuidance(alert, 'oom', { runbooksDir: dir, recall: async () => [PAST] })
    assert.equal(g.runbook?.id, 'web-oom')
    assert.equal(g.runbook?.path, `${path.basename(dir)}/web-oom.md`)
    assert.deepEqual(g.similar, [PAST])
    assert.deepEqual(g.problems, [
      `runbook skipped: ${path.basename(dir)}/broken.md: no front matter (the file must start with a --- block)`,
    ])
    assert.equal((await gatherGuidance(alert, 'killed', { runbooksDir: dir })).runbook, undefined, 'another cause')
    const failed = await gatherGuidance(alert, 'oom', {
      recall: async () => {
        throw new Error('redis down')
      },
    })
    assert.deepEqual(failed.problems, ['past incidents could not be read: redis down'])
  })

  it("cites the runbook, prefers its action on the incident's container, and adds the past as evidence", async () => {
    const g = await gatherGuidance(alert, 'oom', { runbooksDir: dir, recall: async () => [PAST] })
    const evidence = record({ container: container({ name: 'web-1', memoryLimitBytes: 64 * MiB }) })
    const answer = applyGuidance(
      {
        evidence: ['exit code 137'],
        proposed_fix: {
          action: 'restart_container',
          params: { containerId: 'c'.repeat(64) } as Record<string, unknown>,
        },
        risk_level: 'low' as const,
        confidence: 0.7,
      },
      g,
      evidence,
    )
    assert.equal(answer.proposed_fix?.action, 'update_memory_limit')
    assert.equal(answer.proposed_fix?.params.containerId, 'c'.repeat(64))
    assert.ok((answer.proposed_fix?.params.memoryBytes as number) > 64 * MiB)
    assert.equal(answer.risk_level, 'medium')
    assert.equal(answer.confidence, 0.7)
    assert.deepEqual(answer.evidence.slice(0, 3), [
      'exit code 137',
      `runbook web-oom: Web runs out of memory (${path.basename(dir)}/web-oom.md)`,
      'runbook web-oom prefers update_memory_limit',
    ])
    assert.match(answer.evidence[3], /^seen before: inc_before_1 .* after update_memory_limit \(succeeded\)$/)
    // An answer that cites the runbook already is not given a second citation.
    const cited = applyGuidance(
      { evidence: ['as runbook web-oom says'], proposed_fix: null, risk_level: 'low' as const },
      g,
      evidence,
    )
    assert.equal(cited.evidence.filter((l) => l.includes('runbook web-oom:')).length, 0)
  })

  it('gives the LLM the runbook and the past incidents', async () => {
    const g = await gatherGuidance(alert, 'oom', { runbooksDir: dir, recall: async () => [PAST] })
    const [system, user] = buildMessages({ incident: alert, catalog: [], runbook: g.runbook, similar: g.similar })
    assert.match(system.content, /cite it in evidence as `runbook <id>`/)
    assert.match(
      user.content,
      /## Runbook web-oom: Web runs out of memory .*; it prefers update_memory_limit\n\nRaise it; tell the web team\./,
    )
    assert.match(user.content, /## Past incidents of this resource[^\n]*\n\n.*"id":"inc_before_1"/)
  })
})
