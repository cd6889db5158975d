import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { incidentFixture, never, notificationFor, readerOf, rejection } from '../../../tests/helpers/receiver-fixtures'
import { startRedis, type TestRedis } from '../../../tests/helpers/redis'
import { startSmtpStandIn, type SmtpStandIn } from '../../../tests/helpers/smtp-standin'
import type { Receiver } from '../types'
import { DeliveryError } from '../types'
import {
  createEmailReceiver,
  emailConfig,
  emailHtml,
  emailMessageId,
  emailSubject,
  emailThreadKey,
  EMAIL_THREAD_TTL_SECONDS,
} from './email'

describe('e-mail receiver against a real SMTP server on loopback', () => {
  let redis: TestRedis
  let smtp: SmtpStandIn
  let dir: string
  const receivers: Receiver[] = []
  const PASSWORD = 'pw-' + Math.random().toString(36).slice(2)
  const receiver = (over: Record<string, unknown> = {}, name = 'mail-test', env: Record<string, string> = {}) => {
    const r = createEmailReceiver(
      name,
      emailConfig.parse({
        host: smtp.host,
        port: smtp.port,
        from: 'Sentinel <sentinel@example.com>',
        to: ['oncall@example.com', 'sre@example.com'],
        ...over,
      }),
      { redis: redis.client, secret: readerOf({ SMTP_PASSWORD: PASSWORD, ...env }) },
    )
    receivers.push(r)
    return r
  }

  before(async () => {
    redis = await startRedis()
    smtp = await startSmtpStandIn()
    dir = mkdtempSync(path.join(os.tmpdir(), 'sentinel-mail-'))
  })
  after(async () => {
    for (const r of receivers) await r.close?.()
    await smtp.close()
    await redis.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  it('sends one message in text and HTML, with the subject, a key-derived Message-ID and the key header', async () => {
    const i = incidentFixture()
    const n = notificationFor(i, 'escalated', { url: `https://sentinel.example/incidents/${i.id}` })
    await receiver().send(n, never())
    const m = smtp.messages.at(-1)!
    assert.deepEqual(m.to, ['oncall@example.com', 'sre@example.com'])
    assert.equal(m.from, 'sentinel@example.com')
    assert.equal(m.subject, '[Sentinel] ESCALATED critical container_down: web-1')
    assert.equal(m.messageId, emailMessageId(n.key))
    assert.match(m.messageId!, /^<[0-9a-f]{40}@sentinel>$/)
    assert.equal(m.header('x-sentinel-idempotency-key'), n.key)
    assert.equal(m.header('x-sentinel-incident'), i.id)
    assert.equal(m.header('auto-submitted'), 'auto-generated')
    assert.equal(m.header('in-reply-to'), undefined, 'the first message is the thread root')
    assert.match(m.text!, /^Escalated: container web-1 is down/)
    assert.match(m.text!, /Incident +inc-/)
    assert.ok(m.text!.includes(`Open it: ${n.url}`))
    assert.ok(m.text!.includes(n.key))
    assert.match(m.html!, /<h2[^>]*>Escalated: container web-1 is down<\/h2>/)
    assert.ok(m.html!.includes(`<a href="${n.url}">`))
    assert.equal(await redis.client.get(emailThreadKey('mail-test', i.id)), m.messageId)
    const ttl = await redis.client.ttl(emailThreadKey('mail-test', i.id))
    assert.ok(ttl > EMAIL_THREAD_TTL_SECONDS - 60 && ttl <= EMAIL_THREAD_TTL_SECONDS)
  })

  it('threads an incident: later messages name the first in In-Reply-To and References', async () => {
    const i = incidentFixture({ status: 'open' })
    const r = receiver()
    await r.send(notificationFor(i, 'opened'), never())
    const root = smtp.messages.at(-1)!.messageId
    await r.send(notificationFor({ ...i, acknowledgement: { by: 'user:alice', at: 'now' } }, 'acknowledged'), never())
    await r.send(notificationFor({ ...i, status: 'resolved' }, 'resolved'), never())
    for (const m of smtp.messages.slice(-2)) {
      assert.equal(m.header('in-reply-to'), root)
      assert.equal(m.header('references'), root)
    }
    assert.equal(smtp.messages.at(-2)!.subject, '[Sentinel] ACKNOWLEDGED critical container_down: web-1')
    assert.match(smtp.messages.at(-2)!.text!, /Taken by +user:alice at now/)
  })

  it('escapes HTML and keeps the subject on one line', async () => {
    const i = incidentFixture({
      title: '<script>alert("x")</script> & co',
      resource: { kind: 'container', id: 'c', name: 'web\r\nBcc: victim@example.com' },
      analysis: { summary: '<img src=x onerror=alert(1)>' },
    })
    const n = notificationFor(i, 'opened', { url: 'javascript:alert(1)' })
    await receiver().send(n, never())
    const m = smtp.messages.at(-1)!
    assert.ok(!m.html!.includes('<script>'))
    assert.ok(m.html!.includes('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; co'))
    assert.ok(!m.html!.includes('<img'))
    assert.ok(!m.html!.includes('href="javascript:'), 'only http(s) links')
    assert.equal(m.header('bcc'), undefined)
    assert.equal(m.subject, '[Sentinel] OPENED critical container_down: web Bcc: victim@example.com')
    assert.deepEqual(m.to, ['oncall@example.com', 'sre@example.com'])
    assert.ok(emailHtml(n).includes('&lt;img src=x onerror=alert(1)&gt;'))
    assert.equal(
      emailSubject(notificationFor(i, 'repeat', { level: 3 })).startsWith('[Sentinel] STILL UNACKNOWLEDGED (level 3) '),
      true,
    )
  })

  it('the same notification sent twice is the same message: the server sees the same Message-ID and key', async () => {
    const r = receiver()
    const n = notificationFor(incidentFixture(), 'opened')
    await r.send(n, never())
    await r.send(n, never())
    const both = smtp.messages.filter((m) => m.header('x-sentinel-idempotency-key') === n.key)
    assert.equal(both.length, 2)
    assert.equal(both[0].messageId, both[1].messageId)
    assert.equal(smtp.keys.get(n.key), 2)
  })

  it('a 4xx answer is retryable, a 5xx is permanent; the message lands once the server takes it', async () => {
    const r = receiver()
    const n = notificationFor(incidentFixture(), 'opened')
    smtp.failNext(1, 451, 'data', 'Try again later')
    const e1 = await rejection<DeliveryError>(r.send(n, never()))
    assert.ok(e1 instanceof DeliveryError, String(e1))
    assert.equal(e1.permanent, false)
    assert.equal(e1.opts.status, 451)
    assert.match(e1.message, /^email receiver "mail-test": the server answered 451/)

    smtp.failNext(1, 421, 'mail')
    assert.equal((await rejection<DeliveryError>(r.send(n, never()))).permanent, false)

    smtp.failNext(1, 554, 'data', 'Message rejected')
    const e2 = await rejection<DeliveryError>(r.send(n, never()))
    assert.equal(e2.permanent, true)
    assert.equal(e2.opts.status, 554)

    await r.send(n, never())
    assert.equal(smtp.keys.get(n.key), 1)
  })

  it('a refused recipient: 5xx fails permanently naming who missed it, 4xx is retried', async () => {
    const r = receiver()
    smtp.rejectRecipient('sre@example.com', 550)
    const e1 = await rejection<DeliveryError>(r.send(notificationFor(incidentFixture(), 'opened'), never()))
    assert.equal(e1.permanent, true)
    assert.match(e1.message, /refused sre@example\.com .*1 recipient\(s\) got the message/)
    smtp.rejectRecipient('sre@example.com', 452)
    const e2 = await rejection<DeliveryError>(r.send(notificationFor(incidentFixture(), 'opened'), never()))
    assert.equal(e2.permanent, false)
    smtp.rejectRecipient('sre@example.com')
  })

  it('a server that is down is retryable', async () => {
    const r = receiver({ port: 9 }, 'mail-down')
    const err = await rejection<DeliveryError>(r.send(notificationFor(incidentFixture(), 'opened'), never()))
    assert.ok(err instanceof DeliveryError, String(err))
    assert.equal(err.permanent, false)
  })

  it('logs in with the password from the environment or a file; a wrong one is permanent and never shown', async () => {
    const authed = await startSmtpStandIn({ auth: { username: 'sentinel', password: PASSWORD } })
    try {
      const at = { host: authed.host, port: authed.port, username: 'sentinel' }
      await receiver({ ...at, password: { env: 'SMTP_PASSWORD' } }, 'mail-auth').send(
        notificationFor(incidentFixture(), 'opened'),
        never(),
      )
      assert.equal(authed.messages.at(-1)!.user, 'sentinel')
      const file = path.join(dir, 'smtp-password')
      writeFileSync(file, `${PASSWORD}\n`)
      await receiver({ ...at, password: { file } }, 'mail-auth-file').send(
        notificationFor(incidentFixture(), 'opened'),
        never(),
      )
      assert.equal(authed.messages.length, 2)

      const wrong = 'wrong-' + PASSWORD
      const bad = receiver({ ...at, password: { env: 'BAD' } }, 'mail-badauth', { BAD: wrong })
      const err = await rejection<DeliveryError>(bad.send(notificationFor(incidentFixture(), 'opened'), never()))
      assert.equal(err.permanent, true)
      assert.equal(err.opts.status, 535)
      assert.ok(!err.message.includes(wrong), err.message)
    } finally {
      for (const r of receivers.splice(-3)) await r.close?.()
      await authed.close()
    }
  })

  it('STARTTLS with a private CA (tls_ca_file, require_tls); require_tls refuses a server without it', async (t) => {
    const key = path.join(dir, 'key.pem')
    const cert = path.join(dir, 'cert.pem')
    const made = spawnSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        key,
        '-out',
        cert,
      ],
      { encoding: 'utf8' },
    )
    if (made.status !== 0) return t.skip(`openssl could not make a certificate: ${made.stderr}`)
    const tls = await startSmtpStandIn({ tls: { key: readFileSync(key, 'utf8'), cert: readFileSync(cert, 'utf8') } })
    try {
      const r = receiver({ host: '127.0.0.1', port: tls.port, require_tls: true, tls_ca_file: cert }, 'mail-tls')
      await r.send(notificationFor(incidentFixture(), 'opened'), never())
      assert.equal(tls.messages.at(-1)!.secure, true)

      const untrusted = receiver({ host: '127.0.0.1', port: tls.port, require_tls: true }, 'mail-untrusted')
      const e1 = await rejection<DeliveryError>(untrusted.send(notificationFor(incidentFixture(), 'opened'), never()))
      assert.equal(e1.permanent, false, 'a certificate problem may be fixed on the server: retried')

      const plain = receiver({ require_tls: true }, 'mail-plain')
      const e2 = await rejection<DeliveryError>(plain.send(notificationFor(incidentFixture(), 'opened'), never()))
      assert.ok(e2 instanceof DeliveryError)
      assert.equal(tls.messages.length, 1)
    } finally {
      for (const r of receivers.splice(-3)) await r.close?.()
      await tls.close()
    }
  })

  it('fails at construction on a missing password or CA file; the settings are strict and validated', () => {
    const base = { host: 'h', port: 25, from: 'sentinel@example.com', to: ['a@example.com'] }
    assert.throws(
      () =>
        createEmailReceiver('mail-nopw', emailConfig.parse({ ...base, username: 'u', password: { env: 'PW_UNSET' } }), {
          redis: redis.client,
          secret: readerOf({}),
        }),
      /email receiver "mail-nopw": password: environment variable PW_UNSET is not set/,
    )
    assert.throws(
      () =>
        createEmailReceiver('mail-noca', emailConfig.parse({ ...base, tls_ca_file: path.join(dir, 'none.pem') }), {
          redis: redis.client,
          secret: readerOf({}),
        }),
      /cannot read tls_ca_file .*none\.pem \(ENOENT\)/,
    )
    assert.equal(emailConfig.safeParse({ ...base, to: ['not-an-address'] }).success, false)
    assert.equal(emailConfig.safeParse({ ...base, to: [] }).success, false)
    assert.equal(emailConfig.safeParse({ ...base, from: 'Sentinel <nope>' }).success, false)
    assert.equal(emailConfig.safeParse({ ...base, from: 'Sentinel Bot <bot@example.com>' }).success, true)
    assert.equal(emailConfig.safeParse({ ...base, username: 'u' }).success, false, 'username without password')
    assert.equal(emailConfig.safeParse({ ...base, password: { env: 'P' } }).success, false, 'password without username')
    assert.equal(emailConfig.safeParse({ ...base, password: 'inline', username: 'u' }).success, false)
    assert.equal(emailConfig.safeParse({ ...base, port: 0 }).success, false)
    assert.equal(emailConfig.safeParse({ ...base, cc: ['x@example.com'] }).success, false)
  })

  it('close() closes the pooled connections', async () => {
    const own = await startSmtpStandIn()
    try {
      const r = receiver({ port: own.port }, 'mail-close')
      await r.send(notificationFor(incidentFixture(), 'opened'), never())
      await r.send(notificationFor(incidentFixture(), 'opened'), never())
      assert.equal(own.connections(), 1, 'the pool reuses its connection')
      await r.close!()
      receivers.pop()
    } finally {
      await own.close()
    }
  })
})
