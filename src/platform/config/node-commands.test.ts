import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describe, it } from 'node:test'
import { loadConfig } from './index'
import {
  DEFAULT_COMMAND_TIMEOUT_SECONDS,
  findNodeCommand,
  MAX_ARGV_ITEMS,
  MAX_NODE_COMMANDS,
  nodeCommandNames,
  parseNodeCommands,
} from './node-commands'

describe('NODE_COMMANDS', () => {
  it('reads argv arrays and {argv, timeoutSeconds}, word for word', () => {
    const commands = parseNodeCommands(
      JSON.stringify({
        'disk-usage': ['du', '-sh', '/var/log'],
        ps: ['ps'],
        'slow-1': { argv: ['sleep', '5'], timeoutSeconds: 2 },
        quoted: ['sh', '-c', 'echo "a b" | wc -c'],
      }),
    )
    assert.deepEqual(nodeCommandNames(commands), ['disk-usage', 'ps', 'quoted', 'slow-1'])
    assert.deepEqual(commands['disk-usage'], {
      name: 'disk-usage',
      argv: ['du', '-sh', '/var/log'],
      timeoutSeconds: DEFAULT_COMMAND_TIMEOUT_SECONDS,
    })
    assert.equal(commands['slow-1'].timeoutSeconds, 2)
    // Argv stays argv: a string holding a pipe is one argument, not a shell line.
    assert.deepEqual(commands.quoted.argv, ['sh', '-c', 'echo "a b" | wc -c'])
    assert.deepEqual(parseNodeCommands(undefined), {})
    assert.deepEqual(parseNodeCommands('  '), {})
  })

  it('finds only configured commands, never inherited properties', () => {
    const commands = parseNodeCommands('{"ps":["ps"]}')
    assert.equal(findNodeCommand(commands, 'ps')?.name, 'ps')
    for (const name of ['constructor', 'toString', '__proto__', 'hasOwnProperty', 'PS'])
      assert.equal(findNodeCommand(commands, name), undefined, name)
  })

  it('refuses what is not a list of named argvs, saying what is wrong', () => {
    const cases: [string, RegExp][] = [
      ['not json', /NODE_COMMANDS: not JSON/],
      ['["ps"]', /expected a JSON object/],
      ['{"Disk":["du"]}', /"Disk" is not a command name/],
      ['{"-x":["du"]}', /"-x" is not a command name/],
      ['{"__proto__":["id"]}', /"__proto__" is not a command name/],
      ['{"a":"du -sh /"}', /"a": expected an argv array/],
      ['{"a":[]}', /"a": expected a non-empty array of strings/],
      ['{"a":["du",""]}', /"a": argument 1 is not a non-empty string/],
      ['{"a":["du",3]}', /"a": argument 1 is not a non-empty string/],
      ['{"a":["du","x\\u0000y"]}', /"a": argument 1 holds a NUL/],
      [`{"a":["${'x'.repeat(1025)}"]}`, /"a": argument 0 is longer than 1024/],
      [`{"a":${JSON.stringify(Array(MAX_ARGV_ITEMS + 1).fill('x'))}}`, /"a": at most 64 arguments/],
      ['{"a":{"argv":["id"],"timeoutSeconds":0}}', /"a": timeoutSeconds must be a whole number from 1 to 600/],
      ['{"a":{"argv":["id"],"timeoutSeconds":1.5}}', /timeoutSeconds must be a whole number/],
      ['{"a":{"argv":["id"],"shell":true}}', /"a": unknown field "shell"/],
      ['{"a":{"timeoutSeconds":5}}', /"a": expected a non-empty array/],
    ]
    for (const [text, re] of cases) assert.throws(() => parseNodeCommands(text), re, text)
    const many = Object.fromEntries(Array.from({ length: MAX_NODE_COMMANDS + 1 }, (_, i) => [`c${i}`, ['id']]))
    assert.throws(() => parseNodeCommands(JSON.stringify(many)), /at most 50 commands, got 51/)
  })

  it('stops the start with the variable named, and is empty by default', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sentinel-test-nodecmd-'))
    try {
      assert.deepEqual(loadConfig({}, dir).NODE_COMMANDS, {})
      assert.throws(
        () => loadConfig({ NODE_COMMANDS: '{"ps":"ps aux"}' }, dir),
        (err: unknown) => {
          assert.match((err as Error).message, /NODE_COMMANDS: "ps": expected an argv array/)
          return true
        },
      )
      assert.deepEqual(loadConfig({ NODE_COMMANDS: '{"ps":["ps"]}' }, dir).NODE_COMMANDS.ps.argv, ['ps'])
    } finally {
      rmSync(dir, { recursive: true })
    }
  })
})
