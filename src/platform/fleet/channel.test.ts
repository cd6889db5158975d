/**
 * The fleet channel against a real Redis: a request is answered once by the node it names; a node
 * that does not take it in time makes the requester give up for good (the agent, back later, skips
 * it); a request redelivered after the agent answered is answered from the kept result, not run
 * again; a request naming another node is refused; node messages claiming another node are refused
 * and a message whose handling failed is handed again to the next consumer start.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { startRedis, type TestRedis } from '../../../tests/helpers/redis'
import {
  consumeNodeMessages,
  NodeRequestFailed,
  NodeUnreachable,
  publishToController,
  requestOnNode,
  serveRequests,
  type FleetRequest,
  type NodeMessage,
} from './channel'
import { AGENT_GROUP, nodeKeys } from './keys'

const quiet = () => {}
const unique = (p: string) => `${p}-${randomBytes(3).toString('hex')}`

function serve(redis: TestRedis, node: string, handle: (r: FleetRequest) => Promise<unknown>) {
  const stop = new AbortController()
  const done = serveRequests({ redis: redis.client, node, consumer: node, handle, signal: stop.signal, log: quiet })
  return {
    async stop() {
      stop.abort()
      await done
    },
  }
}

/** BLPOP on a connection of its own, closed after. */
async function blpopOnce(redis: TestRedis, key: string): Promise<[string, string] | null> {
  const c = redis.client.duplicate()
  try {
    return await c.blpop(key, 5)
  } finally {
    c.disconnect()
  }
}

describe('fleet channel', () => {
  let redis: TestRedis
  before(async () => {
    redis = await startRedis()
  })
  after(async () => {
    await redis?.stop()
  })

  it('answers a request on the node it names, once', async () => {
    const node = unique('n')
    const seen: FleetRequest[] = []
    const agent = serve(redis, node, async (r) => {
      seen.push(r)
      return { echo: r.body.x }
    })
    try {
      const v = await requestOnNode(
        redis.client,
        { node, op: 'inspect', body: { x: 7 }, from: 'test' },
        { timeoutMs: 5000 },
      )
      assert.deepEqual(v, { echo: 7 })
      assert.equal(seen.length, 1)
      assert.equal(seen[0].from, 'test')
      assert.equal(await redis.client.get(nodeKeys(node).claim(seen[0].id)), 'agent')
    } finally {
      await agent.stop()
    }
  })

  it('carries the error of a failed request, with its status', async () => {
    const node = unique('n')
    const agent = serve(redis, node, async () => {
      throw Object.assign(new Error('no such container: abc'), { statusCode: 404 })
    })
    try {
      await assert.rejects(
        requestOnNode(redis.client, { node, op: 'inspect', body: {}, from: 't' }, { timeoutMs: 5000 }),
        (err: unknown) =>
          err instanceof NodeRequestFailed && err.statusCode === 404 && /no such container/.test(err.message),
      )
    } finally {
      await agent.stop()
    }
  })

  it('gives up on a node that does not take the request, which then never runs it', async () => {
    const node = unique('down')
    await assert.rejects(
      requestOnNode(
        redis.client,
        { node, op: 'action', body: { actionId: 'restart_container' }, from: 't' },
        { timeoutMs: 400 },
      ),
      (err: unknown) => err instanceof NodeUnreachable && err.node === node,
    )
    // The agent comes back: the request is in its stream, given up, and is skipped.
    let ran = 0
    const agent = serve(redis, node, async () => {
      ran++
      return {}
    })
    try {
      const deadline = Date.now() + 10_000
      for (;;) {
        const pending = (await redis.client.xpending(nodeKeys(node).requests, AGENT_GROUP)) as [number, ...unknown[]]
        const groups = (await redis.client.xinfo('GROUPS', nodeKeys(node).requests).catch(() => [])) as unknown[][]
        const delivered = groups.length > 0 && Number(groups[0][groups[0].indexOf('entries-read') + 1] ?? 0) >= 1
        if (delivered && pending[0] === 0) break
        assert.ok(Date.now() < deadline, 'the agent read and acknowledged the given-up request')
        await new Promise((r) => setTimeout(r, 50))
      }
      assert.equal(ran, 0, 'a request given up is never run')
    } finally {
      await agent.stop()
    }
  })

  it('answers a redelivered request from its kept result instead of running it again', async () => {
    const node = unique('n')
    let ran = 0
    const handle = async () => ({ run: ++ran })
    const first = serve(redis, node, handle)
    const v1 = await requestOnNode(redis.client, { node, op: 'inspect', body: {}, from: 't' }, { timeoutMs: 5000 })
    await first.stop()
    assert.deepEqual(v1, { run: 1 })
    // The same request delivered again (an agent that crashed before its acknowledgement reached Redis).
    const [[entryId, fields]] = (await redis.client.xrange(nodeKeys(node).requests, '-', '+')) as [string, string[]][]
    await redis.client.xadd(nodeKeys(node).requests, '*', ...fields)
    const id = fields[fields.indexOf('id') + 1]
    await redis.client.del(nodeKeys(node).reply(id))
    const second = serve(redis, node, handle)
    try {
      const answer = await blpopOnce(redis, nodeKeys(node).reply(id))
      assert.ok(answer, `an answer for ${entryId}`)
      assert.deepEqual(JSON.parse(answer[1]), { ok: true, value: { run: 1 } })
      assert.equal(ran, 1, 'not run twice')
    } finally {
      await second.stop()
    }
  })

  it('refuses a request that names another node, whoever wrote it into this node’s stream', async () => {
    const node = unique('n')
    let ran = 0
    const agent = serve(redis, node, async () => ++ran)
    try {
      const id = randomBytes(8).toString('hex')
      await redis.client.xadd(
        nodeKeys(node).requests,
        '*',
        'id',
        id,
        'node',
        'someone-else',
        'op',
        'action',
        'from',
        't',
        'body',
        '{}',
      )
      const answer = await blpopOnce(redis, nodeKeys(node).reply(id))
      assert.ok(answer)
      const reply = JSON.parse(answer[1])
      assert.equal(reply.ok, false)
      assert.equal(reply.code, 'WRONG_NODE')
      assert.equal(ran, 0)
    } finally {
      await agent.stop()
    }
  })

  it('hands node messages in order, refuses forged ones, hands a failed one again at the next start, then new ones', async () => {
    const node = unique('n')
    await publishToController(redis.client, node, 'docker', { n: 1 })
    await redis.client.xadd(nodeKeys(node).events, '*', 'kind', 'docker', 'node', 'other', 'data', '{"n":2}')
    await publishToController(redis.client, node, 'docker', { n: 3 })
    const consume = (handle: (m: NodeMessage) => Promise<void>, forged: NodeMessage[]) => {
      const stop = new AbortController()
      const done = consumeNodeMessages({
        redis: redis.client,
        node,
        consumer: 'controller:test',
        handle,
        onForged: async (m) => {
          forged.push(m)
        },
        signal: stop.signal,
        log: quiet,
      })
      return async () => {
        stop.abort()
        await done
      }
    }
    const handled: number[] = []
    const forged: NodeMessage[] = []
    let stop = consume(async (m) => {
      if (m.data.n === 3) throw new Error('store away')
      handled.push(Number(m.data.n))
    }, forged)
    const wait = async (cond: () => boolean, what: string) => {
      const deadline = Date.now() + 10_000
      while (!cond()) {
        assert.ok(Date.now() < deadline, what)
        await new Promise((r) => setTimeout(r, 50))
      }
    }
    await wait(() => handled.length === 1 && forged.length === 1, 'first pass')
    await new Promise((r) => setTimeout(r, 200))
    await stop()
    assert.deepEqual(handled, [1])
    assert.equal(forged[0].node, 'other')
    // Restarted: the failed message is handed again; nothing else is.
    stop = consume(async (m) => {
      handled.push(Number(m.data.n))
    }, forged)
    await wait(() => handled.length === 2, 'the failed message again')
    // Past its pending list, the consumer goes on to new messages.
    await publishToController(redis.client, node, 'docker', { n: 4 })
    await wait(() => handled.length === 3, 'a new message after the pending one')
    await stop()
    assert.deepEqual(handled, [1, 3, 4])
    assert.equal(forged.length, 1)
  })
})
