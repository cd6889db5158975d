import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { normalizeApiUrl, parseSlackUserRoles } from './slack'

describe('SLACK_USER_ROLES', () => {
  test('parses and refuses clearly', () => {
    assert.deepEqual(parseSlackUserRoles('U123ABC:admin, W0GRID:viewer'), { U123ABC: 'admin', W0GRID: 'viewer' })
    assert.deepEqual(parseSlackUserRoles(''), {})
    assert.throws(
      () => parseSlackUserRoles('U123:root'),
      /^SlackConfigError: SLACK_USER_ROLES: entry 1 of 1: role "root" must be one of viewer, operator, admin$/,
    )
    assert.throws(() => parseSlackUserRoles('alice:admin'), /"alice" is not a Slack user id/)
    assert.throws(() => parseSlackUserRoles('U123:admin,'), /entry 2 of 2 is empty/)
    assert.throws(() => parseSlackUserRoles('U123:admin,U123:viewer'), /listed twice/)
    assert.throws(() => parseSlackUserRoles('U123'), /must be <Slack user id>:<role>/)
  })
})

describe('SLACK_API_URL', () => {
  test('ends with a slash, and is http(s)', () => {
    assert.equal(normalizeApiUrl(undefined), 'https://slack.com/api/')
    assert.equal(normalizeApiUrl('http://127.0.0.1:9/api'), 'http://127.0.0.1:9/api/')
    assert.throws(() => normalizeApiUrl('slack'), /^SlackConfigError: SLACK_API_URL: "slack" is not a URL$/)
    assert.throws(() => normalizeApiUrl('ftp://x/'), /must be http\(s\)/)
  })
})
