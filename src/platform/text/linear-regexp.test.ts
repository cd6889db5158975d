import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { linearRegExp } from './linear-regexp'

describe('linear-time regular expressions', () => {
  // With a backtracking engine each of these takes about 2^5000 steps: the test would time out.
  it('answers patterns that backtrack catastrophically elsewhere', { timeout: 20_000 }, () => {
    const long = `${'a'.repeat(5000)}!`
    assert.equal(linearRegExp('^(?:(a+)+)$').test(long), false)
    assert.equal(linearRegExp('^(?:(a|aa)*)$').test(long), false)
    assert.equal(linearRegExp(`^(?:${'.*'.repeat(30)}x)$`).test(long), false)
    assert.equal(linearRegExp('^(?:(a+)+!)$').test(long), true)
  })

  it('refuses what cannot run in linear time, saying so', () => {
    assert.throws(() => linearRegExp('(a)\\1'), /linear time/)
    assert.throws(() => linearRegExp('(?=a)a'), /linear time/)
    assert.throws(() => linearRegExp('(unclosed'), SyntaxError)
  })

  it('matches what a backtracking engine matches', () => {
    assert.equal(linearRegExp('^web-\\d+$').test('web-12'), true)
    assert.equal(linearRegExp('^web-\\d+$').test('WEB-12'), false)
    assert.equal(linearRegExp('^(?:container_.*|node_down)$').test('container_down'), true)
  })
})
