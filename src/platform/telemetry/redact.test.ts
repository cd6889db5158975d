import assert from 'node:assert/strict'
import { test } from 'node:test'
import { REDACTED, isSecretKey, redact, redactDeep } from './redact'

const leaks = (out: string, secret: string) => assert.ok(!out.includes(secret), `"${secret}" survived in: ${out}`)

test('API keys of every kind are removed', () => {
  const cases = [
    [
      'OpenRouter',
      'using sk-or-' + 'v1-0123456789abcdef0123456789abcdef0123456789abcdef now',
      'sk-or-' + 'v1-0123456789abcdef',
    ],
    ['OpenAI project', 'key=sk-proj-AbCdEfGhIjKlMnOpQrStUvWx', 'AbCdEfGhIjKlMnOpQrStUvWx'],
    ['OpenAI legacy', 'sk-AbCdEfGhIjKlMnOpQrStUvWx1234567890abcd', 'AbCdEfGhIjKlMnOpQrStUvWx'],
    ['Slack bot', 'token xoxb-' + '1234567890-0987654321-AbCdEfGhIjKl', 'xoxb-' + '1234567890'],
    ['Slack user', 'xoxp-' + '1234567890-0987654321-1122334455-abcdef', 'xoxp-' + '1234567890'],
    ['Slack app', 'xoxa-' + '2-1234567890-abcdefabcdef', 'xoxa-' + '2-1234567890'],
    ['Slack refresh', 'xoxr-' + '1234567890-abcdefabcdef', 'xoxr-' + '1234567890'],
    ['AWS', 'aws_access_key_id AKIA' + 'IOSFODNN7EXAMPLE', 'AKIA' + 'IOSFODNN7EXAMPLE'],
    ['GitHub', 'ghp_0123456789abcdefghijABCDEFGHIJ012345 pushed', 'ghp_0123456789abcdefghij'],
  ] as const
  for (const [what, input, secret] of cases) {
    const out = redact(input)
    leaks(out, secret)
    assert.ok(out.includes(REDACTED), `${what}: ${out}`)
  }
})

test('bearer tokens, authorization headers and JWTs are removed', () => {
  const jwt =
    'eyJhbGciOiJSUzI1NiIsImtpZCI6IjEyMyJ9.eyJzdWIiOiJhbGljZSIsImV4cCI6OTk5OTk5OTk5OX0.c2lnbmF0dXJlLWJ5dGVzLWhlcmUtZm9yLXRlc3Q'
  for (const [input, secret] of [
    ['curl -H "Authorization: Bearer abc123def456ghi789" https://api', 'abc123def456ghi789'],
    ['authorization=Basic dXNlcjpodW50ZXIy', 'dXNlcjpodW50ZXIy'],
    ['sent bearer 9f8e7d6c5b4a39281706 upstream', '9f8e7d6c5b4a39281706'],
    [`cookie session=${jwt}`, jwt.split('.')[1]],
    [`{"headers":{"Authorization":"Bearer ${jwt}"}}`, jwt.split('.')[2]],
  ] as const) {
    leaks(redact(input), secret)
  }
  // A JWT anywhere, without any hint around it.
  assert.equal(redact(`token-less ${jwt} end`), `token-less ${REDACTED} end`)
})

test('passwords in assignments, JSON, YAML and env files are removed', () => {
  for (const [input, secret] of [
    ['login failed password=hunter2 user=bob', 'hunter2'],
    ['PASSWORD=hunter2', 'hunter2'],
    ['MYSQL_ROOT_PASSWORD=s3cr3t!', 's3cr3t!'],
    ['DB_PASSWORD="two words"', 'two words'],
    ["passwd: 'quoted single'", 'quoted single'],
    ['{"password": "hunter2", "user": "bob"}', 'hunter2'],
    ["{'password': 'hunter2'}", 'hunter2'],
    ['{"db_password":"p@ss:w0rd"}', 'p@ss:w0rd'],
    ['  password: yamlSecret', 'yamlSecret'],
    ['https://x/login?user=bob&password=qs-secret&next=/', 'qs-secret'],
    ['client_secret=abcdef123456', 'abcdef123456'],
    ['api_key: 0123456789', '0123456789'],
    ['SLACK_SIGNING_SECRET=8f742231b10e8888abcd99yyyzzz85a5', '8f742231b10e8888abcd99yyyzzz85a5'],
  ] as const) {
    leaks(redact(input), secret)
  }
  // JSON stays JSON, other fields stay.
  assert.deepEqual(JSON.parse(redact('{"password": "hunter2", "user": "bob"}')), { password: REDACTED, user: 'bob' })
  // JSON serialised twice (a log line holding JSON, then put in a JSON prompt).
  const twice = JSON.stringify(JSON.stringify({ password: 'hunter2', n: 1 }))
  const out = redact(twice)
  leaks(out, 'hunter2')
  assert.deepEqual(JSON.parse(JSON.parse(out)), { password: REDACTED, n: 1 })
})

test('connection strings lose their credentials but keep scheme and host', () => {
  assert.equal(redact('postgres://admin:s3cr3t@db.internal:5432/app'), `postgres://${REDACTED}@db.internal:5432/app`)
  assert.equal(redact('redis://:onlypass@cache:6379/0'), `redis://${REDACTED}@cache:6379/0`)
  assert.equal(
    redact('mongodb+srv://u:p%40ss@cluster0.example.net/db'),
    `mongodb+srv://${REDACTED}@cluster0.example.net/db`,
  )
  leaks(redact('amqp://guest:guestpw@rabbit:5672'), 'guestpw')
  // No credentials, nothing removed.
  assert.equal(redact('http://example.com:8080/path?q=1'), 'http://example.com:8080/path?q=1')
})

test('e-mail addresses are removed', () => {
  assert.equal(redact('mail alice.smith+ops@example.co.uk failed'), 'mail [EMAIL] failed')
  assert.equal(redact('From: Bob <bob@corp.io>'), 'From: Bob <[EMAIL]>')
  leaks(redact('notify ops-team_1@sub.domain.example.org now'), 'ops-team_1')
})

test('private key blocks are removed', () => {
  const pem = '-----BEGIN RSA ' + 'PRIVATE KEY-----\nMIIEowIBAAKCAQEA\nabcdef\n-----END RSA PRIVATE KEY-----'
  leaks(redact(`key:\n${pem}\nafter`), 'MIIEowIBAAKCAQEA')
  assert.match(redact(`key:\n${pem}\nafter`), /after$/)
})

test('ordinary text is left alone', () => {
  for (const s of [
    'container web-1 exited with code 3',
    'prompt_tokens=500 max_tokens: 20 total_tokens=520',
    'Basic authentication failed for user',
    'GET /health 200 in 12 ms',
    'memory 512 MiB of 1 GiB, pid 4242',
    'skipping cache warmup',
    'desk-123 ask-456',
  ]) {
    assert.equal(redact(s), s)
  }
})

test('redactDeep redacts values, keys and secret-named fields at any depth', () => {
  const input = {
    labels: { owner: 'ops@example.com', api_key: 'plainvalue', team: 'payments', 'contact-bob@example.com': 'x' },
    nested: [{ password: 12345, note: 'dsn postgres://u:pw@db/x' }, 'sk-or-' + 'v1-0123456789abcdef0123456789'],
    count: 3,
    ok: true,
    none: null,
  }
  const out = redactDeep(input)
  assert.deepEqual(out, {
    labels: { owner: '[EMAIL]', api_key: REDACTED, team: 'payments', '[EMAIL]': 'x' },
    nested: [{ password: REDACTED, note: `dsn postgres://${REDACTED}@db/x` }, REDACTED],
    count: 3,
    ok: true,
    none: null,
  })
  // The input is not changed.
  assert.equal(input.labels.owner, 'ops@example.com')
})

test('isSecretKey', () => {
  for (const k of [
    'password',
    'DB_PASSWORD',
    'apiKey',
    'api_key',
    'token',
    'authorization',
    'client_secret',
    'AWS_ACCESS_KEY',
  ])
    assert.ok(isSecretKey(k), k)
  for (const k of ['user', 'prompt_tokens', 'container', 'exitCode', 'passage']) assert.ok(!isSecretKey(k), k)
})
