import assert from 'node:assert/strict'
import { it } from 'node:test'
import { parseAllowlist } from './allowlist'

it('parses the kill_process allow-list from JSON or a list, and names the variable on a bad regex', () => {
  assert.deepEqual(parseAllowlist('').map(String), [])
  assert.deepEqual(parseAllowlist(undefined).map(String), [])
  assert.deepEqual(parseAllowlist('["a,b{1,2}", "^c"]').map(String), ['/a,b{1,2}/', '/^c/'])
  assert.deepEqual(parseAllowlist('foo, ^bar').map(String), ['/foo/', '/^bar/'])
  assert.deepEqual(parseAllowlist('foo\n^bar').map(String), ['/foo/', '/^bar/'])
  assert.throws(() => parseAllowlist('["(unclosed"]'), /KILL_PROCESS_ALLOWLIST: invalid regex/)
  assert.throws(() => parseAllowlist('[1]'), /KILL_PROCESS_ALLOWLIST: expected a JSON array of strings/)
})
