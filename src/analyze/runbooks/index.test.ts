import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, describe, it } from 'node:test'
import {
  BODY_CHARS,
  checkRunbooks,
  citation,
  loadRunbooks,
  matchRunbook,
  parseRunbook,
  RunbookError,
  runbookFix,
  type Runbook,
} from './index'

const dirs: string[] = []
function runbookDir(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'runbooks-'))
  dirs.push(dir)
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text)
  return dir
}
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})

const book = (front: string, body = 'Steps.') => `---\n${front}\n---\n${body}\n`

describe('runbooks', () => {
  it('parses front matter and body; the id defaults to the file name', () => {
    const rb = parseRunbook(
      book(
        'title: Checkout OOM\nmatch:\n  type: [container_down, memory]\n  cause: oom\n  resource: "checkout-*"\n  labels: { team: payments }\naction: update_memory_limit',
        '# Checkout\nRaise it.',
      ),
      'runbooks/Checkout-OOM.md',
    )
    assert.deepEqual(rb, {
      id: 'checkout-oom',
      title: 'Checkout OOM',
      path: 'runbooks/Checkout-OOM.md',
      match: {
        type: ['container_down', 'memory'],
        cause: ['oom'],
        resource: 'checkout-*',
        labels: { team: 'payments' },
      },
      action: 'update_memory_limit',
      body: '# Checkout\nRaise it.',
    })
  })

  it('names what is wrong in a bad file', () => {
    const bad: Array<[string, RegExp]> = [
      ['no front matter here', /no front matter/],
      [book('title: [unclosed'), /not YAML/],
      [book('match: {}'), /title/],
      [book('title: x\nmatch:\n  type: disk_full'), /match\.type/],
      [book('title: x\nmatch:\n  cause: gremlins'), /match\.cause/],
      [book('title: x\nmatch:\n  colour: red'), /colour|unrecognized/i],
      [book('title: x\naction: rm_rf'), /action: one of restart_container/],
      [book('title: x\naction: kill_process'), /action/],
      [book('title: x\nid: "../etc"'), /id/],
    ]
    for (const [text, why] of bad) assert.throws(() => parseRunbook(text, 'runbooks/x.md'), why, text)
  })

  it('loads a directory: bad files become problems, good ones load; duplicate ids are refused', () => {
    const dir = runbookDir({
      'a.md': book('title: A\nmatch: { type: disk }'),
      'b.md': book('title: B\nid: a'),
      'c.md': 'not a runbook',
      'notes.txt': 'ignored',
    })
    const { runbooks, problems } = loadRunbooks(dir)
    assert.deepEqual(
      runbooks.map((r) => r.id),
      ['a'],
    )
    assert.equal(problems.length, 2)
    assert.match(problems[0], /b\.md: id "a" is also the id of a\.md/)
    assert.match(problems[1], /c\.md: no front matter/)
    assert.throws(
      () => checkRunbooks(dir),
      (err: unknown) => err instanceof RunbookError && /b\.md/.test(err.message) && /c\.md/.test(err.message),
    )
    assert.deepEqual(loadRunbooks(path.join(dir, 'missing')), { runbooks: [], problems: [] })
  })

  it('matches the most specific runbook; every field given must match', () => {
    const rb = (id: string, match: Runbook['match']): Runbook => ({
      id,
      title: id,
      path: `runbooks/${id}.md`,
      match,
      body: '',
    })
    const books = [
      rb('any', {}),
      rb('down', { type: ['container_down'] }),
      rb('oom', { type: ['container_down'], cause: ['oom'] }),
      rb('checkout', { resource: 'checkout-*' }),
      rb('checkout-oom', { resource: 'checkout-*', cause: ['oom'], labels: { team: 'payments' } }),
    ]
    const subject = { type: 'container_down', resource: 'checkout-7', cause: 'oom', labels: { team: 'payments' } }
    assert.equal(matchRunbook(books, subject)?.id, 'checkout-oom')
    assert.equal(matchRunbook(books, { ...subject, labels: { team: 'search' } })?.id, 'oom')
    assert.equal(matchRunbook(books, { ...subject, cause: 'killed', labels: {} })?.id, 'checkout')
    assert.equal(matchRunbook(books, { type: 'disk', resource: '/' })?.id, 'any')
    assert.equal(matchRunbook(books.slice(1), { type: 'disk', resource: '/' }), undefined)
    // Wildcards only: regex syntax in a pattern is literal.
    assert.equal(matchRunbook([rb('dot', { resource: 'a.c' })], { type: 'cpu', resource: 'abc' }), undefined)
    assert.equal(matchRunbook([rb('q', { resource: 'web-?' })], { type: 'cpu', resource: 'WEB-1' })?.id, 'q')
  })

  it('ships runbooks that load', () => {
    const shipped = checkRunbooks(path.resolve(import.meta.dirname, '..', '..', '..', 'runbooks'))
    assert.ok(shipped.length >= 5, `${shipped.length} runbooks`)
    for (const rb of shipped) assert.ok(rb.body.length > 0, rb.id)
  })

  it('cuts a long body in the citation', () => {
    const long = citation({ id: 'l', title: 'L', path: 'runbooks/l.md', match: {}, body: 'x'.repeat(BODY_CHARS * 2) })
    assert.ok(long.body.length < BODY_CHARS + 10)
  })

  it("prefers the runbook's action on the incident's own target, or says why it cannot", () => {
    const restart = { action: 'restart_container', params: { containerId: 'abc123' } }
    assert.equal(runbookFix({ id: 'x' }, restart, {}), undefined)
    assert.deepEqual(runbookFix({ id: 'x', action: 'none' }, restart, {}), {
      fix: null,
      risk: 'low',
      note: 'runbook x: no automatic fix, a person decides',
    })
    const raise = runbookFix({ id: 'x', action: 'update_memory_limit' }, restart, {
      memoryLimitBytes: 64 * 1024 * 1024,
    })
    assert.equal(raise?.fix?.action, 'update_memory_limit')
    assert.equal(raise?.fix?.params.containerId, 'abc123')
    assert.ok((raise?.fix?.params.memoryBytes as number) > 64 * 1024 * 1024)
    assert.equal(raise?.risk, 'medium')
    // A container action needs a container: a disk incident keeps the analyser's answer.
    const noTarget = runbookFix({ id: 'x', action: 'restart_container' }, { action: 'clean_sandbox', params: {} }, {})
    assert.deepEqual(noTarget?.fix, { action: 'clean_sandbox', params: {} })
    assert.match(noTarget!.note, /does not apply/)
    assert.deepEqual(runbookFix({ id: 'x', action: 'clean_sandbox' }, null, {})?.fix, {
      action: 'clean_sandbox',
      params: {},
    })
    assert.deepEqual(runbookFix({ id: 'x', action: 'restart_container' }, null, { containerId: 'def456' })?.fix, {
      action: 'restart_container',
      params: { containerId: 'def456' },
    })
  })
})
