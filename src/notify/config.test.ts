import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { NotifyConfigError, parseNotifyConfig, loadNotifyConfig } from './config'
import { parseDuration } from './durations'
import { incidentLabels, matches, parseMatcher } from './matchers'
import { quietUntil } from './quiet-hours'
import { routesFor } from './routing'
import type { Incident } from '../platform/store/model'

const settings = { slackConfigured: false }

const GOOD = `# a routing file as a team writes it
receivers:
  - name: team-hook
    webhook:
      url: http://127.0.0.1:9/hook
      secret: { env: HOOK_SECRET }
  - name: pd-primary
    pagerduty:
      routing_key: { env: PD_KEY }
  - name: pd-secondary
    pagerduty:
      routing_key: { env: PD_KEY_2 }
route:
  receiver: team-hook
  group_wait: 5s
  repeat_interval: 1h
  routes:
    - matchers: ['severity="critical"']
      receiver: pd-primary
      continue: true
      events: [escalated, acknowledged, resolved]
    - matchers: ['type=~"container_.*"', 'node!="lab"']
      receiver: team-hook
      quiet_hours: [nights]
escalation:
  after: 15m
  levels:
    - receivers: [pd-primary]
    - receivers: [pd-secondary]
quiet_hours:
  - name: nights
    times: [{ start: '22:00', end: '07:00' }]
delivery:
  max_attempts: 4
  backoff_base: 500ms
`

const problemsOf = (text: string): string[] => {
  try {
    parseNotifyConfig(text, 'routing.yml', settings)
  } catch (err) {
    assert.ok(err instanceof NotifyConfigError, String(err))
    return err.problems
  }
  assert.fail('the file was accepted')
}

describe('routing file', () => {
  it('reads a full file: receivers, the tree with inheritance, escalation, quiet hours, delivery', () => {
    const c = parseNotifyConfig(GOOD, 'routing.yml', settings)
    assert.deepEqual(
      c.receivers.map((r) => r.name),
      ['team-hook', 'pd-primary', 'pd-secondary'],
    )
    const [critical, containers] = c.route!.routes
    assert.equal(c.route!.groupWaitMs, 5000)
    assert.equal(critical.groupWaitMs, 5000, 'inherited')
    assert.equal(critical.repeatIntervalMs, 3_600_000, 'inherited')
    assert.deepEqual(critical.events, ['escalated', 'acknowledged', 'resolved'])
    assert.deepEqual(containers.events, c.route!.events, 'inherited events')
    assert.equal(containers.quietHours[0].name, 'nights')
    assert.deepEqual(c.escalation, {
      afterMs: 900_000,
      severities: ['critical'],
      levels: [['pd-primary'], ['pd-secondary']],
    })
    assert.equal(c.delivery.maxAttempts, 4)
    assert.equal(c.delivery.backoffBaseMs, 500)
    assert.equal(c.delivery.timeoutMs, 10_000, 'default')
  })

  it('ESCALATE_AFTER_MINUTES wins over the file', () => {
    const c = parseNotifyConfig(GOOD, 'routing.yml', { ...settings, escalateAfterMinutes: 0.05 })
    assert.equal(c.escalation!.afterMs, 3000)
  })

  it('names every problem with its line, in one error', () => {
    const bad = GOOD.replace('group_wait: 5s', 'group_wait: 5 seconds')
      .replace('receiver: pd-primary\n      continue', 'receiver: pd-nobody\n      continue')
      .replace('\'type=~"container_.*"\'', '\'type=~"(unclosed"\'')
      .replace('    - receivers: [pd-secondary]', '    - receivers: [pd-tertiary]')
      .replace('quiet_hours: [nights]', 'quiet_hours: [weekends]')
    const problems = problemsOf(bad)
    const line = (needle: string) => bad.split('\n').findIndex((l) => l.includes(needle)) + 1
    const expect = [
      [line('group_wait: 5 seconds'), /group_wait.*not a duration/],
      [line('receiver: pd-nobody'), /no receiver is named pd-nobody/],
      [line('(unclosed'), /not a regular expression/],
      [line('[pd-tertiary]'), /no receiver is named pd-tertiary/],
      [line('[weekends]'), /no quiet_hours is named weekends/],
    ] as const
    for (const [n, re] of expect)
      assert.ok(
        problems.some((p) => p.startsWith(`line ${n}:`) && re.test(p)),
        `expected line ${n} ${re} in:\n${problems.join('\n')}`,
      )
    assert.equal(problems.length, expect.length, problems.join('\n'))
  })

  it('reports YAML syntax errors and unknown keys by line', () => {
    assert.match(problemsOf('receivers:\n  - name: a\n    webhook: { url: http://x\n')[0], /^line \d+: /)
    const unknown = problemsOf(GOOD.replace('  repeat_interval: 1h', '  repeat_intervall: 1h'))
    assert.ok(
      unknown.some((p) => /^line 16: .*repeat_intervall/.test(p)),
      unknown.join('\n'),
    )
    const twoTypes = problemsOf(
      GOOD.replace(
        '  - name: pd-primary\n',
        '  - name: pd-primary\n    webhook: { url: http://127.0.0.1:9/x, secret: { env: S } }\n',
      ),
    )
    assert.ok(
      twoTypes.some((p) => /exactly one of/.test(p)),
      twoTypes.join('\n'),
    )
  })

  it('checks each receiver when asked, reporting at its line', () => {
    const problems = (() => {
      try {
        parseNotifyConfig(GOOD, 'routing.yml', {
          ...settings,
          checkReceiver: (r) => {
            if (r.name === 'pd-secondary') throw new Error('environment variable PD_KEY_2 is not set')
          },
        })
      } catch (err) {
        return (err as NotifyConfigError).problems
      }
      return []
    })()
    assert.deepEqual(problems, ['line 10: receivers.2: environment variable PD_KEY_2 is not set'])
  })

  it('without a file: Slack when it is configured, else off with the reason', () => {
    const off = loadNotifyConfig({ slackConfigured: false })
    assert.equal(off.route, null)
    assert.match(off.off!, /nobody is paged/)
    const slack = loadNotifyConfig({ slackConfigured: true, slackChannel: '#ops' })
    assert.equal(slack.route!.receiver, 'slack')
    assert.equal(slack.receivers.length, 1)
  })

  it('a missing file is named', () => {
    assert.throws(() => loadNotifyConfig({ file: '/nonexistent/routing.yml', slackConfigured: false }), /ENOENT/)
  })
})

describe('matchers, routing and quiet hours', () => {
  const incident = (over: Partial<Incident> = {}): Incident =>
    ({
      id: 'inc_1',
      severity: 'critical',
      type: 'container_down',
      status: 'open',
      resource: { kind: 'container', id: 'c1', name: 'web-1' },
      alert: { labels: { node: 'edge-3', team: 'payments' } },
      ...over,
    }) as Incident

  it('matches as Alertmanager does, on Sentinel labels and the alert labels', () => {
    const labels = incidentLabels(incident())
    assert.equal(labels.container, 'web-1')
    assert.equal(labels.node, 'edge-3')
    assert.ok(matches([parseMatcher('team="payments"'), parseMatcher('type=~"container_.*"')], labels))
    assert.ok(!matches([parseMatcher('type=~"container"')], labels), 'regexes are anchored')
    assert.ok(matches([parseMatcher('missing!="x"')], labels), 'a missing label reads as empty')
    assert.ok(!matches([parseMatcher('severity!~"crit.*"')], labels))
    assert.throws(() => parseMatcher('severity=="x"'), /not name="value"/)
  })

  it('walks the tree: first match wins, continue goes on, the parent takes what no child took', () => {
    const c = parseNotifyConfig(GOOD, 'routing.yml', settings)
    const names = (i: Incident) => routesFor(c.route!, incidentLabels(i)).map((r) => r.receiver)
    assert.deepEqual(names(incident()), ['pd-primary', 'team-hook'])
    assert.deepEqual(names(incident({ severity: 'warning' })), ['team-hook'])
    assert.deepEqual(names(incident({ severity: 'warning', type: 'disk' })), ['team-hook'], 'the root')
  })

  it('quiet hours across midnight end at the end time, in the given zone', () => {
    const c = parseNotifyConfig(GOOD, 'routing.yml', settings)
    const nights = c.route!.routes[1].quietHours
    const at = (iso: string) => Date.parse(iso)
    assert.equal(quietUntil(nights, at('2026-12-03T23:30:00Z')), at('2026-12-04T07:00:00Z'))
    assert.equal(quietUntil(nights, at('2026-12-04T06:59:00Z')), at('2026-12-04T07:00:00Z'))
    assert.equal(quietUntil(nights, at('2026-12-04T07:00:00Z')), null)
    assert.equal(quietUntil(nights, at('2026-12-04T12:00:00Z')), null)
    const berlin = [{ ...nights[0], location: 'Europe/Berlin' }]
    assert.equal(quietUntil(berlin, at('2026-12-04T05:30:00Z')), at('2026-12-04T06:00:00Z'), '07:00 in Berlin (UTC+1)')
  })

  it('durations read as Alertmanager writes them', () => {
    assert.equal(parseDuration('1h30m'), 5_400_000)
    assert.equal(parseDuration('250ms'), 250)
    assert.throws(() => parseDuration('5 minutes'), /not a duration/)
  })
})

describe('examples/notify.yml', () => {
  it('is a valid routing file whose receivers build', async () => {
    const { readFileSync } = await import('node:fs')
    const path = await import('node:path')
    const { createReceiver } = await import('./receivers/index')
    const { secretReader } = await import('./secret')
    const file = path.resolve(import.meta.dirname, '../../examples/notify.yml')
    const env = {
      SLACK_BOT_TOKEN: 'xoxb-example',
      PAGERDUTY_PRIMARY_KEY: 'e'.repeat(32),
      OPSGENIE_API_KEY: 'example-key',
      SMTP_PASSWORD: 'example-password',
      SENTINEL_WEBHOOK_SECRET: 'example-secret-of-enough-length',
    }
    const built: string[] = []
    const c = parseNotifyConfig(readFileSync(file, 'utf8'), file, {
      slackConfigured: true,
      checkReceiver: (r) => {
        const receiver = createReceiver(r, { redis: undefined as never, secret: secretReader(env) })
        built.push(receiver.name)
        void receiver.close?.()
      },
    })
    assert.deepEqual(built, ['team-slack', 'primary-pager', 'secondary-pager', 'admins-mail', 'audit-hook'])
    assert.equal(c.escalation!.levels.length, 3)
  })
})
