/**
 * Authorised remote diagnostic commands: an admin runs one of the named commands of NODE_COMMANDS
 * (src/platform/config/node-commands.ts) inside a watched container on a node, and sees its output
 * live. Three sides, one concept:
 *
 * - the API (`runNodeCommand`, for POST /api/nodes/:node/commands): checks what the controller
 *   knows (the node is known and up by its own record of the beats, the command is in its list,
 *   the container is watched there by the node's last status), asks the node's agent, and audits
 *   `node.command` with the exit code, the duration and the output (capped);
 * - the agent (`handleCommandRequest`): runs only a command of its OWN list (the request carries a
 *   name, never an argv, so a controller cannot make it run anything else), only in a container
 *   carrying the watch label, through the Docker exec API with the argv as Cmd (no shell), with a
 *   deadline and an output cap; it sends the output to the controller as it comes
 *   (`command.output` messages on its node's event stream);
 * - the controller (`relayCommandOutput`): checks each output message and puts it on the live
 *   stream, as an `audit`-type event of kind `node.command.output`: the hub shows those to admins
 *   only, and the output of a command inside a container is for the people who may run one.
 *
 * Docker's exec API has no kill. At the deadline the agent asks the engine for the exec's process
 * (its pid on the host), checks that /proc shows that pid running exactly the command's argv (not a
 * pid reused since), and sends it SIGKILL. An agent that cannot see the engine's processes (in a
 * container of its own without the host's pid namespace) cannot: the answer then says `killed:
 * false` and the process runs on until it ends by itself; either way the agent stops reading it.
 */
import { randomUUID } from 'node:crypto'
import { StringDecoder } from 'node:string_decoder'
import { Writable } from 'node:stream'
import type { Redis } from 'ioredis'
import { z } from 'zod'
import type { SentinelConfig } from '../platform/config/index'
import { findNodeCommand, NODE_COMMAND_NAME_PATTERN, nodeCommandNames } from '../platform/config/node-commands'
import { assertWatched, containerName, getDocker, NotWatchedError } from '../platform/docker/client'
import {
  type FleetRequest,
  type NodeMessage,
  NodeRequestFailed,
  NodeUnreachable,
  publishToController,
  requestOnNode,
} from '../platform/fleet/channel'
import { FLEET_SEEN_KEY, type NodeContainer, nodeKeys, nodeName } from '../platform/fleet/keys'
import { readArgv } from '../platform/host/procfs'
import { HttpError } from '../platform/http/errors'
import type { AuditLog } from '../platform/store/audit'
import { publishToStream } from '../platform/stream/publish'
import { parseStatus, type SeenNode } from './heartbeats'

type Log = (level: 'info' | 'warn' | 'error', msg: string, data?: Record<string, unknown>) => void

/** The kind of the agent's output messages on its node's event stream. */
export const COMMAND_OUTPUT_KIND = 'command.output'
/** The audit kind of a run, and the kind of its output events on the live stream. */
export const NODE_COMMAND_AUDIT_KIND = 'node.command'
export const NODE_COMMAND_OUTPUT_EVENT = 'node.command.output'

/** Output kept and streamed per run, in bytes; past it the command runs on, unread. */
export const OUTPUT_CAP_BYTES = 64 * 1024
/** A message carries at most this much output; output is sent at least this often while it comes. */
const CHUNK_BYTES = 8 * 1024
const CHUNK_EVERY_MS = 200
/** After the kill, how long the agent waits for the exec to end before it stops reading anyway. */
const AFTER_KILL_MS = 3000
/** The controller waits this much longer than the command's deadline (the kill and the answer). */
const ANSWER_MARGIN_MS = 15_000

const runIdSchema = z.uuid()
const commandName = z.string().regex(NODE_COMMAND_NAME_PATTERN, 'a command name (a-z, 0-9, dash)')

// ---------------------------------------------------------------------------------------------
// The agent's side

/** What the controller sends: the command's name, never its argv. */
export const commandRequestBody = z
  .object({
    runId: runIdSchema,
    command: commandName,
    container: z.string().min(1).max(256),
  })
  .strict()

export type OutputStream = 'stdout' | 'stderr' | 'note'

/** One piece of output, as the agent sends it to the controller. */
export const commandOutputSchema = z
  .object({
    runId: runIdSchema,
    seq: z.number().int().min(0).max(1_000_000),
    command: commandName,
    container: z.string().max(256),
    stream: z.enum(['stdout', 'stderr', 'note']),
    text: z.string().max(2 * CHUNK_BYTES),
  })
  .strict()
export type CommandOutput = z.infer<typeof commandOutputSchema>

/** What the agent answers for one run. */
export const commandResultSchema = z.object({
  runId: runIdSchema,
  node: z.string().max(63),
  command: commandName,
  argv: z.array(z.string().max(1024)).max(64),
  container: z.string().max(256),
  containerId: z.string().max(128),
  /** null when the process had not ended when the agent stopped waiting (timed out, not killed). */
  exitCode: z.number().int().nullable(),
  durationMs: z.number().nonnegative(),
  // Characters, not bytes: a cut may land in a character the decoder then replaces.
  output: z.string().max(OUTPUT_CAP_BYTES + 64),
  truncated: z.boolean(),
  timedOut: z.boolean(),
  /** Whether the agent killed the process at the deadline (only when timedOut). */
  killed: z.boolean(),
})
export type CommandResult = z.infer<typeof commandResultSchema>

export interface CommandAgentDeps {
  config: Pick<SentinelConfig, 'NODE_COMMANDS'>
  redis: Redis
  log: Log
  /** The agent's node. */
  node: string
}

/** A refusal the controller passes on with its status. */
const refusal = (statusCode: number, message: string) => Object.assign(new Error(message), { statusCode })

/**
 * The output of one run: kept up to the cap, and sent to the controller in pieces of at most
 * CHUNK_BYTES at least every CHUNK_EVERY_MS, in order (each piece waits for the one before).
 */
class RunOutput {
  private kept: string[] = []
  private bytes = 0
  private seq = 0
  private pending: { stream: OutputStream; text: string } | null = null
  private timer?: NodeJS.Timeout
  private sending: Promise<void> = Promise.resolve()
  private readonly decoders = { stdout: new StringDecoder('utf8'), stderr: new StringDecoder('utf8') }
  truncated = false

  constructor(
    private readonly send: (piece: { seq: number; stream: OutputStream; text: string }) => Promise<unknown>,
    private readonly log: Log,
  ) {}

  add(stream: 'stdout' | 'stderr', data: Buffer): void {
    if (this.truncated) return
    let piece = data
    if (this.bytes + piece.length > OUTPUT_CAP_BYTES) {
      piece = piece.subarray(0, OUTPUT_CAP_BYTES - this.bytes)
      this.truncated = true
    }
    this.bytes += piece.length
    this.text(stream, this.decoders[stream].write(piece))
    if (this.truncated) {
      this.text(stream, this.decoders[stream].end())
      this.flush()
      this.text(
        'note',
        `[output cap of ${OUTPUT_CAP_BYTES / 1024} KiB reached: the rest is neither streamed nor kept]\n`,
      )
      this.flush()
    }
  }

  /** Everything sent, the decoders emptied; resolves once the controller has every piece. */
  async end(note?: string): Promise<string> {
    if (!this.truncated) for (const s of ['stdout', 'stderr'] as const) this.text(s, this.decoders[s].end())
    if (note) this.text('note', note)
    this.flush()
    await this.sending
    return this.kept.join('')
  }

  private text(stream: OutputStream, text: string): void {
    if (!text) return
    // Notes are shown live, not kept: the result says truncated / timedOut itself.
    if (stream !== 'note') this.kept.push(text)
    if (this.pending && this.pending.stream !== stream) this.flush()
    this.pending = { stream, text: (this.pending?.text ?? '') + text }
    if (Buffer.byteLength(this.pending.text) >= CHUNK_BYTES) this.flush()
    else this.timer ??= setTimeout(() => this.flush(), CHUNK_EVERY_MS)
  }

  private flush(): void {
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
    const p = this.pending
    this.pending = null
    if (!p) return
    for (let at = 0; at < p.text.length; at += CHUNK_BYTES) {
      const piece = { seq: this.seq++, stream: p.stream, text: p.text.slice(at, at + CHUNK_BYTES) }
      this.sending = this.sending.then(() =>
        this.send(piece).then(
          () => undefined,
          // The run goes on: its answer still carries the output the live view missed.
          (err) => this.log('warn', 'could not send command output', { error: (err as Error).message }),
        ),
      )
    }
  }
}

/** SIGKILLs the exec's process when /proc shows that pid running exactly `argv`; true if sent. */
async function killExecProcess(pid: number, argv: string[]): Promise<boolean> {
  if (!Number.isInteger(pid) || pid <= 1) return false
  const running = await readArgv(pid)
  if (running.length !== argv.length || running.some((a, i) => a !== argv[i])) return false
  try {
    process.kill(pid, 'SIGKILL')
    return true
  } catch {
    return false
  }
}

/**
 * The agent's handling of a `command` request (its `handle` calls this for `req.op === 'command'`).
 * Refusals carry a status the API passes on: 400 a command not in this agent's list, 404 a
 * container that is not watched here; Docker's own (409: the container is not running) pass as they are.
 */
export async function handleCommandRequest(req: FleetRequest, deps: CommandAgentDeps): Promise<CommandResult> {
  const { config, redis, log, node } = deps
  const parsed = commandRequestBody.safeParse(req.body)
  if (!parsed.success) {
    const i = parsed.error.issues[0]
    throw refusal(400, `bad command request: ${i?.path.join('.') || '(body)'}: ${i?.message}`)
  }
  const { runId, container: ref } = parsed.data
  const command = findNodeCommand(config.NODE_COMMANDS, parsed.data.command)
  if (!command) {
    const known = nodeCommandNames(config.NODE_COMMANDS)
    throw refusal(
      400,
      `node ${node} has no command "${parsed.data.command}" in its NODE_COMMANDS (${known.length ? `it has: ${known.join(', ')}` : 'it has none'})`,
    )
  }
  let info
  try {
    info = await assertWatched(ref)
  } catch (err) {
    if (err instanceof NotWatchedError)
      throw refusal(404, `container ${ref} is not a watched container on node ${node}`)
    throw err
  }
  const name = containerName(info)
  const output = new RunOutput(
    (piece) =>
      publishToController(redis, node, COMMAND_OUTPUT_KIND, {
        runId,
        command: command.name,
        container: name,
        ...piece,
      } satisfies CommandOutput),
    log,
  )
  log('info', 'running a diagnostic command', { runId, command: command.name, container: name, from: req.from })
  const docker = await getDocker()
  const target = docker.getContainer(info.Id)
  const exec = await target.exec({ Cmd: command.argv, AttachStdout: true, AttachStderr: true, Tty: false })
  const startedAt = performance.now()
  const stream = await exec.start({ hijack: true, stdin: false })
  const sink = (s: 'stdout' | 'stderr') =>
    new Writable({
      write(chunk: Buffer, _enc, done) {
        output.add(s, chunk)
        done()
      },
    })
  docker.modem.demuxStream(stream, sink('stdout'), sink('stderr'))
  const ended = new Promise<void>((resolve) => {
    stream.once('end', resolve)
    stream.once('close', resolve)
    stream.once('error', resolve)
  })
  let timedOut = false
  let killed = false
  let deadline: NodeJS.Timeout | undefined
  const timeUp = new Promise<'time'>(
    (resolve) => (deadline = setTimeout(() => resolve('time'), command.timeoutSeconds * 1000)),
  )
  if ((await Promise.race([ended.then(() => 'ended' as const), timeUp])) === 'time') {
    timedOut = true
    const state = await exec.inspect().catch(() => null)
    if (state?.Running) killed = await killExecProcess(state.Pid, command.argv)
    let wait: NodeJS.Timeout | undefined
    await Promise.race([ended, new Promise((r) => (wait = setTimeout(r, AFTER_KILL_MS)))])
    clearTimeout(wait)
    stream.destroy()
    log('warn', 'a diagnostic command ran past its deadline', { runId, command: command.name, container: name, killed })
  }
  clearTimeout(deadline)
  const durationMs = Math.round(performance.now() - startedAt)
  // The engine may say Running for a moment after the stream ends: ask a few times.
  let exitCode: number | null = null
  for (let i = 0; i < 20; i++) {
    const state = await exec.inspect().catch(() => null)
    if (state && !state.Running) {
      exitCode = typeof state.ExitCode === 'number' ? state.ExitCode : null
      break
    }
    if (timedOut && !killed) break
    await new Promise((r) => setTimeout(r, 100))
  }
  const note = timedOut
    ? killed
      ? `[deadline of ${command.timeoutSeconds} s passed: the process was killed]\n`
      : `[deadline of ${command.timeoutSeconds} s passed: the agent could not kill the process (Docker's exec API has no kill); it stopped reading it]\n`
    : undefined
  const text = await output.end(note)
  return {
    runId,
    node,
    command: command.name,
    argv: command.argv,
    container: name,
    containerId: info.Id,
    exitCode,
    durationMs,
    output: text,
    truncated: output.truncated,
    timedOut,
    killed,
  }
}

// ---------------------------------------------------------------------------------------------
// The controller's side: the output, onto the live stream

/**
 * One `command.output` message of a node (the channel checked it came on the node's own stream),
 * onto the live stream for admins. A message that is not output is logged and dropped, never
 * retried: it cannot become one.
 */
export async function relayCommandOutput(redis: Redis, msg: NodeMessage, log: Log): Promise<void> {
  const parsed = commandOutputSchema.safeParse(msg.data)
  if (!parsed.success) {
    log('warn', 'a command output message that does not parse was dropped', {
      node: msg.node,
      entryId: msg.entryId,
      problem: parsed.error.issues[0]?.message,
    })
    return
  }
  const o = parsed.data
  await publishToStream(redis, 'audit', {
    at: new Date().toISOString(),
    kind: NODE_COMMAND_OUTPUT_EVENT,
    actor: `agent@${msg.node}`,
    node: msg.node,
    resource: o.container,
    outcome: o.stream,
    data: o,
  })
}

// ---------------------------------------------------------------------------------------------
// The API's side

export const nodeCommandPath = z.object({ node: nodeName })

export const nodeCommandBody = z
  .object({
    command: z.string().trim().min(1).max(63).describe('a command name from NODE_COMMANDS'),
    container: z
      .string()
      .trim()
      .min(1)
      .max(256)
      .describe('a watched container on the node: its name, its id, or the first 12+ characters of its id'),
  })
  .strict()

export interface RunNodeCommandDeps {
  redis: Redis
  audit: AuditLog
  config: Pick<SentinelConfig, 'NODE_COMMANDS' | 'NODE_ACTION_TIMEOUT_SECONDS' | 'NODE_NAME'>
  log: Log
}

async function seenNode(redis: Redis, node: string): Promise<SeenNode | null> {
  const raw = await redis.hget(FLEET_SEEN_KEY, node)
  if (!raw) return null
  try {
    const seen = JSON.parse(raw) as SeenNode
    return seen.state === 'up' || seen.state === 'down' ? seen : null
  } catch {
    return null
  }
}

function findContainer(containers: NodeContainer[], ref: string): NodeContainer | undefined {
  const byName = containers.find((c) => c.name === ref)
  if (byName) return byName
  if (!/^[0-9a-f]{12,64}$/.test(ref)) return undefined
  const byId = containers.filter((c) => c.id.startsWith(ref))
  return byId.length === 1 ? byId[0] : undefined
}

/**
 * POST /api/nodes/:node/commands: runs `command` in `containerRef` on `node` for `actor`, and
 * audits it. Throws HttpError: 400 an unknown command (naming the known ones), 404 an unknown node
 * or a container not watched there, 409 a node down (or that did not take the request), 502 a node
 * that failed otherwise.
 */
export async function runNodeCommand(
  req: { node: string; command: string; container: string; actor: string },
  deps: RunNodeCommandDeps,
): Promise<CommandResult> {
  const { redis, audit, config, log } = deps
  const { node, actor } = req
  const seen = await seenNode(redis, node)
  if (!seen) {
    const local = node === config.NODE_NAME ? ' (the controller itself: commands run through node agents only)' : ''
    throw new HttpError(404, 'unknown_node', `node ${node} is not known: no agent has reported from it${local}`)
  }
  if (seen.state === 'down')
    throw new HttpError(409, 'node_down', `node ${node} is down: no heartbeat since ${seen.lastBeatAt}`)
  const command = findNodeCommand(config.NODE_COMMANDS, req.command)
  if (!command) {
    const known = nodeCommandNames(config.NODE_COMMANDS)
    throw new HttpError(
      400,
      'unknown_command',
      `unknown command "${req.command}": ${known.length ? `the known ones are ${known.join(', ')}` : 'NODE_COMMANDS defines none'}`,
      { known },
    )
  }
  const status = parseStatus(await redis.get(nodeKeys(node).status), node, log)
  const container = findContainer(status?.containers ?? [], req.container)
  if (!container)
    throw new HttpError(
      404,
      'unknown_container',
      `container ${req.container} is not a watched container on node ${node} (by its last heartbeat)`,
    )
  const runId = randomUUID()
  const base = {
    kind: NODE_COMMAND_AUDIT_KIND,
    actor,
    node,
    resource: container.name,
  }
  const auditData = { runId, command: command.name, container: container.name, containerId: container.id }
  let answer: unknown
  try {
    answer = await requestOnNode(
      redis,
      { node, op: 'command', body: { runId, command: command.name, container: container.id }, from: actor },
      {
        timeoutMs: config.NODE_ACTION_TIMEOUT_SECONDS * 1000,
        runTimeoutMs: command.timeoutSeconds * 1000 + AFTER_KILL_MS + ANSWER_MARGIN_MS,
      },
    )
  } catch (err) {
    const error = (err as Error).message
    await audit.append({ ...base, outcome: 'failed', data: { ...auditData, error } })
    if (err instanceof NodeUnreachable) throw new HttpError(409, 'node_unreachable', error)
    if (err instanceof NodeRequestFailed) {
      const s = err.statusCode
      if (s === 400) throw new HttpError(400, 'refused_by_node', error)
      if (s === 404) throw new HttpError(404, 'unknown_container', error)
      if (s === 409) throw new HttpError(409, 'container_not_running', `node ${node}: ${error}`)
      throw new HttpError(502, 'node_failed', `node ${node}: ${error}`)
    }
    throw err
  }
  const result = commandResultSchema.safeParse(answer)
  if (!result.success || result.data.runId !== runId || result.data.node !== node) {
    await audit.append({ ...base, outcome: 'failed', data: { ...auditData, error: 'not a command result' } })
    throw new HttpError(502, 'node_failed', `node ${node} answered with something that is not this command's result`)
  }
  const r = result.data
  await audit.append({
    ...base,
    outcome: r.timedOut ? 'timed out' : r.exitCode === 0 ? 'ok' : `exit ${r.exitCode}`,
    data: {
      ...auditData,
      argv: r.argv,
      exitCode: r.exitCode,
      durationMs: r.durationMs,
      truncated: r.truncated,
      timedOut: r.timedOut,
      killed: r.killed,
      output: r.output,
    },
  })
  return r
}
