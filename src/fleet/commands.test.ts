import { randomBytes, randomUUID } from 'node:crypto'
// Our own watch label, so other engineers' running Sentinels never act on these containers.
const WATCH_KEY = `sentinel.unit-${randomBytes(4).toString('hex')}`
process.env.WATCH_LABEL = `${WATCH_KEY}=true`

import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { Redis } from 'ioredis'
import { docker, removeContainers, runContainer, uniqueName } from '../../tests/helpers/docker'
import { startRedis, type TestRedis } from '../../tests/helpers/redis'
import { resetConfigCache } from '../platform/config/index'
import { parseNodeCommands } from '../platform/config/node-commands'
import { type FleetRequest, serveRequests } from '../platform/fleet/channel'
import { FLEET_SEEN_KEY, type NodeStatus, nodeKeys } from '../platform/fleet/keys'
import { HttpError } from '../platform/http/errors'
import { AuditLog } from '../platform/store/audit'
import { STREAM_LOG_KEY } from '../platform/stream/publish'
import {
  COMMAND_OUTPUT_KIND,
  handleCommandRequest,
  NODE_COMMAND_OUTPUT_EVENT,
  OUTPUT_CAP_BYTES,
  relayCommandOutput,
  runNodeCommand,
} from './commands'

const tag = randomBytes(4).toString('hex')
const NODE = `unit-${tag}`
const quiet = () => {}

const COMMANDS = parseNodeCommands(
  JSON.stringify({
    hello: ['sh', '-c', 'echo out-line; echo err-line >&2; exit 3'],
    echo: ['echo', 'a; rm -rf /', '$(id)'],
    flood: ['seq', '1', '40000'],
    slow: { argv: ['sleep', '37'], timeoutSeconds: 1 },
  }),
)

/** Every output message the node published, in stream order. */
async function published(redis: Redis, runId: string) {
  const rows = await redis.xrange(nodeKeys(NODE).events, '-', '+')
  return rows
    .map(([, f]) => Object.fromEntries([0, 2, 4].map((i) => [f[i], f[i + 1]])))
    .filter((m) => m.kind === COMMAND_OUTPUT_KIND)
    .map((m) => JSON.parse(m.data))
    .filter((d) => d.runId === runId)
}

describe('node commands', () => {
  let redis: TestRedis
  const watched = uniqueName('cmd')
  const unwatched = uniqueName('cmd-unwatched')
  let dir: string
  const request = (body: Record<string, unknown>): FleetRequest => ({
    id: randomUUID(),
    node: NODE,
    op: 'command',
    from: 'test',
    body,
  })
  const agentDeps = () => ({ config: { NODE_COMMANDS: COMMANDS }, redis: redis.client, log: quiet, node: NODE })

  before(async () => {
    resetConfigCache()
    dir = mkdtempSync(path.join(os.tmpdir(), 'sentinel-test-nodecmd-'))
    redis = await startRedis()
    await runContainer(watched, { labels: { [WATCH_KEY]: 'true' } })
    await runContainer(unwatched)
  })
  after(async () => {
    await removeContainers(watched, unwatched)
    await redis?.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  describe('on the agent', () => {
    it('runs the configured argv in the container, and streams its output in order as it comes', async () => {
      const runId = randomUUID()
      const r = await handleCommandRequest(request({ runId, command: 'hello', container: watched }), agentDeps())
      assert.equal(r.exitCode, 3)
      assert.equal(r.container, watched)
      assert.deepEqual(r.argv, COMMANDS.hello.argv)
      assert.equal(r.timedOut, false)
      assert.equal(r.truncated, false)
      assert.match(r.output, /out-line\n/)
      assert.match(r.output, /err-line\n/)
      const chunks = await published(redis.client, runId)
      assert.deepEqual(
        chunks.map((c) => c.seq),
        chunks.map((_, i) => i),
      )
      assert.ok(chunks.some((c) => c.stream === 'stdout' && c.text.includes('out-line')))
      assert.ok(chunks.some((c) => c.stream === 'stderr' && c.text.includes('err-line')))
      assert.equal(chunks.map((c) => c.text).join(''), r.output)
    })

    it('hands the argv to the container word for word, with no shell', async () => {
      const runId = randomUUID()
      const r = await handleCommandRequest(request({ runId, command: 'echo', container: watched }), agentDeps())
      assert.equal(r.exitCode, 0)
      assert.equal(r.output, 'a; rm -rf / $(id)\n')
    })

    it('refuses a command not in its own list, an argv, and a container without the watch label', async () => {
      const deps = { ...agentDeps(), config: { NODE_COMMANDS: parseNodeCommands('{"ps":["ps"]}') } }
      await assert.rejects(
        handleCommandRequest(request({ runId: randomUUID(), command: 'hello', container: watched }), deps),
        (err: Error & { statusCode?: number }) => {
          assert.equal(err.statusCode, 400)
          assert.match(err.message, /node unit-\w+ has no command "hello" in its NODE_COMMANDS \(it has: ps\)/)
          return true
        },
      )
      await assert.rejects(
        handleCommandRequest(
          request({ runId: randomUUID(), command: 'ps', container: watched, argv: ['rm', '-rf', '/'] }),
          deps,
        ),
        (err: Error & { statusCode?: number }) => err.statusCode === 400 && /argv/.test(err.message),
      )
      await assert.rejects(
        handleCommandRequest(request({ runId: randomUUID(), command: 'hello', container: unwatched }), agentDeps()),
        (err: Error & { statusCode?: number }) => {
          assert.equal(err.statusCode, 404)
          assert.match(err.message, new RegExp(`container ${unwatched} is not a watched container`))
          return true
        },
      )
    })

    it('keeps and streams at most the cap, says so, and lets the command finish', async () => {
      const runId = randomUUID()
      const r = await handleCommandRequest(request({ runId, command: 'flood', container: watched }), agentDeps())
      assert.equal(r.exitCode, 0)
      assert.equal(r.truncated, true)
      assert.equal(Buffer.byteLength(r.output), OUTPUT_CAP_BYTES)
      assert.ok(r.output.startsWith('1\n2\n3\n'))
      assert.doesNotMatch(r.output, /\n40000\n/)
      const chunks = await published(redis.client, runId)
      const streamed = chunks.filter((c) => c.stream === 'stdout').map((c) => c.text)
      assert.equal(streamed.join(''), r.output)
      assert.match(chunks.at(-1).text, /output cap of 64 KiB reached/)
      assert.equal(chunks.at(-1).stream, 'note')
    })

    it('kills a command that runs past its deadline', async () => {
      const runId = randomUUID()
      const r = await handleCommandRequest(request({ runId, command: 'slow', container: watched }), agentDeps())
      assert.equal(r.timedOut, true)
      assert.equal(r.killed, true)
      assert.equal(r.exitCode, 137)
      const top = await docker('top', watched)
      assert.doesNotMatch(top, /sleep 37/)
      const chunks = await published(redis.client, runId)
      assert.match(chunks.at(-1).text, /deadline of 1 s passed: the process was killed/)
    })
  })

  describe('on the controller', () => {
    it('puts well-formed output on the live stream for admins, and drops the rest', async () => {
      // What reaches the live stream is what is in its shared log (src/platform/stream/publish.ts).
      const from = (await redis.client.xrevrange(STREAM_LOG_KEY, '+', '-', 'COUNT', 1))[0]?.[0] ?? '0'
      const logged = async () =>
        (await redis.client.xrange(STREAM_LOG_KEY, `(${from}`, '+')).map(([, f]) => {
          const fields: Record<string, string> = {}
          for (let i = 0; i + 1 < f.length; i += 2) fields[f[i]] = f[i + 1]
          return { type: fields.type, data: JSON.parse(fields.data) }
        })
      let got: any[] = []
      {
        const runId = randomUUID()
        const data = { runId, seq: 0, command: 'ps', container: 'web', stream: 'stdout', text: 'PID USER\n' }
        await relayCommandOutput(redis.client, { entryId: '1-0', kind: COMMAND_OUTPUT_KIND, node: NODE, data }, quiet)
        const bad = [
          { ...data, text: 'x'.repeat(20_000) },
          { ...data, stream: 'stdin' },
          { ...data, extra: true },
          { ...data, runId: 'not-a-uuid' },
        ]
        const dropped: string[] = []
        for (const d of bad)
          await relayCommandOutput(
            redis.client,
            { entryId: '2-0', kind: COMMAND_OUTPUT_KIND, node: NODE, data: d },
            (_l, msg) => dropped.push(msg),
          )
        // A marker after the refused ones: once it is here, nothing else is coming.
        await relayCommandOutput(
          redis.client,
          { entryId: '3-0', kind: COMMAND_OUTPUT_KIND, node: NODE, data: { ...data, seq: 1, text: 'end' } },
          quiet,
        )
        got = await logged()
        assert.equal(got.length, 2)
        assert.equal(got[0].type, 'audit')
        assert.equal(got[0].data.kind, NODE_COMMAND_OUTPUT_EVENT)
        assert.equal(got[0].data.node, NODE)
        assert.deepEqual(got[0].data.data, data)
        assert.equal(got[1].data.data.text, 'end')
        assert.equal(dropped.length, bad.length)
      }
    })
  })

  describe('through the API, with an agent serving in this process', () => {
    let stop: AbortController
    let serving: Promise<void>
    let audit: AuditLog
    const apiDeps = (extra: Partial<{ NODE_ACTION_TIMEOUT_SECONDS: number }> = {}) => ({
      redis: redis.client,
      audit,
      config: { NODE_COMMANDS: COMMANDS, NODE_ACTION_TIMEOUT_SECONDS: 10, NODE_NAME: `ctl-${tag}`, ...extra },
      log: quiet,
    })
    const seen = (state: 'up' | 'down') =>
      redis.client.hset(
        FLEET_SEEN_KEY,
        NODE,
        JSON.stringify({
          state,
          lastBeatAt: new Date().toISOString(),
          beat: 'x#1',
          seq: 1,
          since: new Date().toISOString(),
        }),
      )
    const expectHttp = async (p: Promise<unknown>, status: number, re: RegExp) =>
      assert.rejects(p, (err: unknown) => {
        assert.ok(err instanceof HttpError, String(err))
        assert.equal(err.status, status, err.message)
        assert.match(err.message, re)
        return true
      })

    before(async () => {
      audit = new AuditLog(redis.client, path.join(dir, 'audit.jsonl'))
      const id = await docker('inspect', '--format', '{{.Id}}', watched)
      const status: NodeStatus = {
        node: NODE,
        seq: 1,
        pid: 1,
        startedAt: new Date().toISOString(),
        beatAt: new Date().toISOString(),
        heartbeatSeconds: 1,
        engine: { reachable: true, version: 'test' },
        host: null,
        containers: [{ id, name: watched, image: 'busybox', state: 'running', status: 'Up' }],
      }
      await redis.client.set(nodeKeys(NODE).status, JSON.stringify(status))
      stop = new AbortController()
      serving = serveRequests({
        redis: redis.client,
        node: NODE,
        consumer: NODE,
        handle: (req) => handleCommandRequest(req, agentDeps()),
        signal: stop.signal,
        log: quiet,
      })
    })
    after(async () => {
      stop?.abort()
      await serving
    })

    it('runs the command on the node and audits exit code, duration and output', async () => {
      await seen('up')
      const id = await docker('inspect', '--format', '{{.Id}}', watched)
      const r = await runNodeCommand(
        { node: NODE, command: 'hello', container: id.slice(0, 12), actor: 'key:admin1' },
        apiDeps(),
      )
      assert.equal(r.exitCode, 3)
      assert.equal(r.container, watched)
      const entry = (await audit.read(20)).find((e) => e.kind === 'node.command' && e.data?.runId === r.runId)
      assert.ok(entry, 'audited')
      assert.equal(entry.actor, 'key:admin1')
      assert.equal(entry.node, NODE)
      assert.equal(entry.resource, watched)
      assert.equal(entry.outcome, 'exit 3')
      assert.equal(entry.data?.command, 'hello')
      assert.equal(entry.data?.exitCode, 3)
      assert.equal(entry.data?.output, r.output)
      assert.equal(typeof entry.data?.durationMs, 'number')
    })

    it('names what is wrong: unknown node 404, down 409, unknown command 400, unwatched container 404', async () => {
      await expectHttp(
        runNodeCommand({ node: `nowhere-${tag}`, command: 'hello', container: watched, actor: 'a' }, apiDeps()),
        404,
        /node nowhere-\w+ is not known/,
      )
      await seen('down')
      await expectHttp(
        runNodeCommand({ node: NODE, command: 'hello', container: watched, actor: 'a' }, apiDeps()),
        409,
        /node unit-\w+ is down/,
      )
      await seen('up')
      await expectHttp(
        runNodeCommand({ node: NODE, command: 'rm', container: watched, actor: 'a' }, apiDeps()),
        400,
        /unknown command "rm": the known ones are echo, flood, hello, slow/,
      )
      await expectHttp(
        runNodeCommand({ node: NODE, command: 'hello', container: unwatched, actor: 'a' }, apiDeps()),
        404,
        new RegExp(`container ${unwatched} is not a watched container on node`),
      )
    })

    it('gives up on a node that does not take the request: 409, audited, never run later', async () => {
      stop.abort()
      await serving
      await seen('up')
      await expectHttp(
        runNodeCommand(
          { node: NODE, command: 'hello', container: watched, actor: 'a' },
          apiDeps({ NODE_ACTION_TIMEOUT_SECONDS: 1 }),
        ),
        409,
        /did not take the request/,
      )
      const entry = (await audit.read(5)).find((e) => e.kind === 'node.command')
      assert.equal(entry?.outcome, 'failed')
    })
  })
})
