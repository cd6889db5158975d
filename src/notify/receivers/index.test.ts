import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { noRedis, readerOf } from '../../../tests/helpers/receiver-fixtures'
import { createReceiver, receiverSchema, receiverType, secretRefsOf } from './index'

const KEY32 = 'k'.repeat(32)

describe('receiverSchema and createReceiver', () => {
  const entries = {
    slack: { name: 'team-slack', slack: { channel: 'C0TEAM' } },
    pagerduty: { name: 'pd', pagerduty: { routing_key: { env: 'PD_KEY' } } },
    opsgenie: { name: 'og', opsgenie: { api_key: { file: '/run/secrets/og' } } },
    email: {
      name: 'mail',
      email: {
        host: 'smtp.example.com',
        port: 587,
        username: 'u',
        password: { env: 'SMTP_PW' },
        from: 'sentinel@example.com',
        to: ['ops@example.com'],
      },
    },
    webhook: { name: 'hook', webhook: { url: 'https://hooks.example.com/s', secret: { env: 'HOOK_SECRET' } } },
  }

  it('takes a name and exactly one type, Alertmanager style', () => {
    for (const [type, entry] of Object.entries(entries)) {
      const parsed = receiverSchema.parse(entry)
      assert.equal(receiverType(parsed), type)
    }
    const none = receiverSchema.safeParse({ name: 'x' })
    assert.equal(none.success, false)
    assert.match(none.error!.issues[0].message, /exactly one of slack, pagerduty, opsgenie, email, webhook/)
    const two = receiverSchema.safeParse({ ...entries.pagerduty, slack: { channel: 'C' } })
    assert.equal(two.success, false)
    assert.match(two.error!.issues[0].message, /found slack and pagerduty/)
    assert.equal(receiverSchema.safeParse({ ...entries.slack, sms: {} }).success, false, 'unknown keys are refused')
    assert.equal(receiverSchema.safeParse({ ...entries.slack, name: 'has space' }).success, false)
    assert.equal(receiverSchema.safeParse({ ...entries.slack, name: '' }).success, false)
    const nested = receiverSchema.safeParse({ name: 'pd', pagerduty: { routing_key: { env: 'PD_KEY' }, urll: 'x' } })
    assert.equal(nested.success, false)
    assert.deepEqual(nested.error!.issues[0].path, ['pagerduty'])
  })

  it('lists the secrets each receiver reads', () => {
    const refs = Object.fromEntries(
      Object.entries(entries).map(([type, e]) => [type, secretRefsOf(receiverSchema.parse(e))]),
    )
    assert.deepEqual(refs, {
      slack: [['token', { env: 'SLACK_BOT_TOKEN' }]],
      pagerduty: [['routing_key', { env: 'PD_KEY' }]],
      opsgenie: [['api_key', { file: '/run/secrets/og' }]],
      email: [['password', { env: 'SMTP_PW' }]],
      webhook: [['secret', { env: 'HOOK_SECRET' }]],
    })
  })

  it('builds the receiver of each type, reading its secrets at once', async () => {
    const secret = readerOf({
      SLACK_BOT_TOKEN: 'xoxb-1',
      PD_KEY: KEY32,
      SMTP_PW: 'pw',
      HOOK_SECRET: 's3cret',
      OG: 'og-key',
    })
    const built = [
      entries.slack,
      entries.pagerduty,
      { name: 'og', opsgenie: { api_key: { env: 'OG' } } },
      entries.email,
      entries.webhook,
    ].map((e) => createReceiver(receiverSchema.parse(e), { redis: noRedis, secret }))
    assert.deepEqual(
      built.map((r) => [r.name, r.type]),
      [
        ['team-slack', 'slack'],
        ['pd', 'pagerduty'],
        ['og', 'opsgenie'],
        ['mail', 'email'],
        ['hook', 'webhook'],
      ],
    )
    for (const r of built) await r.close?.()
    assert.throws(
      () => createReceiver(receiverSchema.parse(entries.webhook), { redis: noRedis, secret: readerOf({}) }),
      /webhook receiver "hook": secret: environment variable HOOK_SECRET is not set/,
    )
  })
})
