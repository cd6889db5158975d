import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { CAUSES } from '../../src/analyze/causes'
import {
  exitCodes,
  exitCodeShown,
  numbersAfter,
  OOM_TRUE,
  promptText,
  recovered,
  rising,
  seriesValues,
  sustainedOver,
} from './evidence'
import {
  accuracy,
  causeOf,
  confusion,
  EXPECTED_FIX,
  evidenceShare,
  FAULTS,
  fixOf,
  formatConfusion,
  formatTable,
  scoreControl,
  scoreFault,
  type CaseResult,
  type Fault,
} from './score'

const fault = (f: Fault, variant = 0) => ({
  fault: f,
  variant,
  resource: `svc-${f}-${variant}`,
  title: 't',
  seconds: 1,
})
const analysed = (cause: string | undefined, action: string | null, extra: Record<string, unknown> = {}) => ({
  id: 'inc_1',
  analysis: {
    ...(cause === undefined ? {} : { cause }),
    proposed_fix: action ? { action, params: {} } : null,
    analyser: 'rules',
    root_cause: 'because',
    ...extra,
  },
})

describe('the expected fix table', () => {
  it('has an entry for every fault, and every fault is a cause label', () => {
    for (const f of FAULTS) {
      assert.ok(f in CAUSES, f)
      assert.ok(f in EXPECTED_FIX, f)
    }
    assert.equal(EXPECTED_FIX.bad_config, null)
    assert.deepEqual(EXPECTED_FIX.cpu_hog, ['restart_container', 'scale_out'])
  })
})

describe('causeOf and fixOf', () => {
  it('takes a known cause, counts an absent one as unknown and says so', () => {
    assert.deepEqual(causeOf({ cause: 'oom' }), { cause: 'oom', absent: false })
    assert.deepEqual(causeOf({ root_cause: 'x' }), { cause: 'unknown', absent: true })
    assert.deepEqual(causeOf(undefined), { cause: 'unknown', absent: true })
    assert.deepEqual(causeOf({ cause: 'gremlins' }), { cause: 'unknown', absent: false })
  })
  it('reads the proposed action or null', () => {
    assert.equal(fixOf({ proposed_fix: { action: 'clean_sandbox', params: {} } }), 'clean_sandbox')
    assert.equal(fixOf({ proposed_fix: null }), null)
    assert.equal(fixOf(undefined), null)
  })
})

describe('scoreFault', () => {
  it('right cause and right fix', () => {
    const r = scoreFault(fault('oom'), analysed('oom', 'update_memory_limit'))
    assert.equal(r.rightCause, true)
    assert.equal(r.rightFix, true)
    assert.equal(r.incidentId, 'inc_1')
    assert.equal(r.analyser, 'rules')
  })
  it('any of the allowed fixes counts', () => {
    assert.equal(scoreFault(fault('cpu_hog'), analysed('cpu_hog', 'scale_out')).rightFix, true)
    assert.equal(scoreFault(fault('cpu_hog'), analysed('cpu_hog', 'restart_container')).rightFix, true)
    assert.equal(scoreFault(fault('cpu_hog'), analysed('cpu_hog', 'kill_process')).rightFix, false)
  })
  it('where no fix is safe, only no fix is right', () => {
    assert.equal(scoreFault(fault('bad_config'), analysed('bad_config', null)).rightFix, true)
    assert.equal(scoreFault(fault('bad_config'), analysed('crash', 'restart_container')).rightFix, false)
    assert.equal(scoreFault(fault('transient'), analysed('unknown', null)).rightFix, true)
  })
  it('a missing fix where one is expected is wrong', () => {
    const r = scoreFault(fault('killed'), analysed('killed', null))
    assert.equal(r.rightCause, true)
    assert.equal(r.rightFix, false)
  })
  it('an absent cause is unknown, and flagged', () => {
    const r = scoreFault(fault('oom'), analysed(undefined, 'update_memory_limit'))
    assert.equal(r.gotCause, 'unknown')
    assert.equal(r.causeAbsent, true)
    assert.equal(r.rightCause, false)
    assert.equal(r.rightFix, true)
  })
  it('no incident: none, wrong on both counts, with a note', () => {
    const r = scoreFault(fault('memory_leak'), undefined)
    assert.equal(r.gotCause, 'none')
    assert.equal(r.rightCause, false)
    assert.equal(r.rightFix, false)
    assert.match(r.note!, /no incident/)
  })
})

describe('scoreControl', () => {
  it('no incident is right', () => {
    const r = scoreControl({ resource: 'web', title: 't', seconds: 1 }, [])
    assert.equal(r.fault, 'control')
    assert.equal(r.gotCause, 'none')
    assert.equal(r.rightCause && r.rightFix, true)
  })
  it('an incident is wrong, and its cause is shown', () => {
    const r = scoreControl({ resource: 'web', title: 't', seconds: 1 }, [analysed('cpu_hog', 'scale_out')])
    assert.equal(r.gotCause, 'cpu_hog')
    assert.equal(r.rightCause, false)
    assert.equal(r.rightFix, false)
    assert.match(r.note!, /1 incident/)
  })
})

function results(): CaseResult[] {
  return [
    scoreFault(fault('oom', 0), analysed('oom', 'update_memory_limit')),
    scoreFault(fault('oom', 1), analysed('killed', 'restart_container')),
    scoreFault(fault('bad_config', 0), analysed('crash', 'restart_container')),
    scoreFault(fault('transient', 0), undefined),
    scoreControl({ resource: 'web', title: 't', seconds: 1 }, []),
  ]
}

describe('confusion and accuracy', () => {
  it('counts expected × got, rows and columns in label order', () => {
    const c = confusion(results())
    assert.deepEqual(c.rows, ['oom', 'bad_config', 'transient', 'none'])
    assert.deepEqual(c.cols, ['oom', 'bad_config', 'killed', 'transient', 'crash', 'none'])
    assert.deepEqual(c.counts.oom, { oom: 1, killed: 1 })
    assert.deepEqual(c.counts.bad_config, { crash: 1 })
    assert.deepEqual(c.counts.transient, { none: 1 })
    assert.deepEqual(c.counts.none, { none: 1 })
  })
  it('formats it with dots for zero and short column names', () => {
    const text = formatConfusion(confusion(results()))
    const lines = text.split('\n')
    assert.match(lines[0], /^expected \\ got\s+oom\s+config\s+killed\s+trans\s+crash\s+none$/)
    assert.match(lines[1], /^oom\s+1\s+\.\s+1\s+\.\s+\.\s+\.$/)
    assert.equal(lines.length, 5)
  })
  it('accuracy over the faults, and with the controls', () => {
    const a = accuracy(results())
    assert.deepEqual(a.cause, { right: 1, total: 4, share: 0.25 })
    assert.deepEqual(a.fix, { right: 1, total: 4, share: 0.25 })
    assert.deepEqual(a.causeWithControls, { right: 2, total: 5, share: 0.4 })
    assert.equal(a.missed, 1)
    assert.equal(a.causeAbsent, 0)
  })
  it('evidence share per fault and overall; no prompt counts as not found', () => {
    const rs = results()
    rs[0].evidence = true
    rs[0].prompts = 1
    rs[1].evidence = false
    rs[1].prompts = 1
    rs[2].evidence = true
    rs[2].prompts = 2
    const e = evidenceShare(rs)
    assert.deepEqual(e.perFault.oom, { right: 1, total: 2, share: 0.5 })
    assert.deepEqual(e.perFault.bad_config, { right: 1, total: 1, share: 1 })
    assert.deepEqual(e.perFault.transient, { right: 0, total: 1, share: 0 })
    assert.deepEqual(e.overall, { right: 2, total: 4, share: 0.5 })
    assert.equal(e.withoutPrompt, 1)
  })
  it('formatTable pads columns', () => {
    assert.equal(
      formatTable([
        ['a', 'bb'],
        ['ccc', 'd'],
      ]),
      'a    bb\nccc  d',
    )
  })
})

describe('evidence in a prompt', () => {
  const body = (user: string) => ({
    messages: [
      { role: 'system', content: 'catalog: OOMKilled=true is an example' },
      { role: 'user', content: user },
    ],
  })
  it('reads the user messages only, without the cause descriptions', () => {
    const text = promptText(body(`labels:\n${CAUSES.port_in_use}\nlog: all good`))
    assert.doesNotMatch(text, /OOMKilled/)
    assert.doesNotMatch(text, /already in use/)
    assert.match(text, /all good/)
  })
  it('OOMKilled=true in its spellings, not false', () => {
    assert.match('"oomKilled": true', OOM_TRUE)
    assert.match('Docker reports OOMKilled=true', OOM_TRUE)
    assert.match('oom_killed: true', OOM_TRUE)
    assert.doesNotMatch('"oomKilled": false', OOM_TRUE)
  })
  it('an exit code in its spellings', () => {
    assert.ok(exitCodeShown('"exitCode": 137', 137))
    assert.ok(exitCodeShown('exit code 0', 0))
    assert.ok(!exitCodeShown('"exitCode": 1370', 137))
    assert.ok(!exitCodeShown('"exitCode": 0.5', 0))
    assert.deepEqual(exitCodes('"exitCode": 137, then exit code 0'), [137, 0])
  })
  it('numbers after a key', () => {
    assert.deepEqual(numbersAfter('"cpuPercent": 97.5, cpu_percent=12', 'cpu_?percent'), [97.5, 12])
  })
  it('a series as the prompt lists it', () => {
    const text = [
      '## Metric history of container_memory_percent (5 points)',
      '2026-01-01T00:00:00.000Z 10',
      '2026-01-01T00:00:04.000Z 18.5',
      'not a point 99',
      '2026-01-01T00:00:08.000Z 30',
    ].join('\n')
    assert.deepEqual(seriesValues(text), [10, 18.5, 30])
  })
  it('rising: enough points, mostly up, enough rise', () => {
    assert.ok(rising([10, 15, 20, 25, 31], { minRise: 15 }))
    assert.ok(rising([10, 15, 14, 25, 30, 40], { minRise: 15 }))
    assert.ok(!rising([10, 15, 20, 25], { minRise: 5 }), 'too few points')
    assert.ok(!rising([10, 11, 12, 13, 14], { minRise: 15 }), 'too small a rise')
    assert.ok(!rising([10, 40, 5, 45, 3, 50], { minRise: 15 }), 'not steady')
  })
  it('recovered: over the threshold, then back under it after the peak', () => {
    assert.ok(recovered([5, 600, 620, 610, 8], 200))
    assert.ok(!recovered([5, 600, 620, 610], 200))
    assert.ok(!recovered([5, 6, 7], 200))
  })
  it('sustainedOver: enough points over, the last among them', () => {
    assert.ok(sustainedOver([5, 450, 460, 455], 200))
    assert.ok(!sustainedOver([5, 450, 460, 455, 6], 200))
    assert.ok(!sustainedOver([5, 450], 200))
  })
})
