/**
 * The Redis ACL user of one fleet node agent (`sentinel-agent-<node>`): the least rights the agent
 * needs, so that a stolen agent password can neither speak for another node nor read anything of
 * the controller's (incidents, approvals, other nodes' requests).
 *
 * Redis 7.0 selectors pair each key with only the commands the agent runs on it: the user's root
 * permissions hold the keyless commands, and each selector `(<keys> <commands>)` allows its commands
 * on its keys alone (a command runs if the root or one selector allows it on every key it names).
 * `%W~` grants a key for writing only: SET without GET, XADD, SADD, LPUSH and EXPIRE need no read
 * permission, so the agent cannot read back the registry, its events or its replies.
 *
 * Left out on purpose: INFO (ioredis's ready check; it shows the server's clients, keyspace and
 * paths), so the agent connects with `enableReadyCheck: false` (with ioredis's defaults it still
 * connects: ioredis logs a warning and skips the check); CLIENT SETINFO, unknown to Redis 7.0
 * (ioredis sends it at connect and ignores the error; on 7.2+ set `disableClientInfo: true`).
 * AUTH and HELLO need no grant: Redis lets every user run them.
 *
 * What an ACL cannot bound: the members the agent adds to the registry (keys.ts: a name there proves
 * nothing), the size of what it writes to its own keys, and whether it sets their TTLs.
 */
import type { Redis } from 'ioredis'
import { FLEET_NODES_KEY, NODE_NAME_PATTERN, isNodeName, nodeKeys } from './keys'

export const AGENT_USER_PREFIX = 'sentinel-agent-'

/**
 * What would widen a key pattern (Redis's glob: `* ? [ ] \`, `^` inside brackets) or end an ACL rule
 * or selector early (blanks, parentheses). NODE_NAME_PATTERN admits none of them; checked again
 * here because a key pattern built from a name must match that name's keys and nothing else.
 */
const UNSAFE_IN_ACL_PATTERN = /[*?[\]\\^\s()]/

function checkedNode(node: string): string {
  if (!isNodeName(node) || UNSAFE_IN_ACL_PATTERN.test(node))
    throw new Error(`not a node name (expected ${NODE_NAME_PATTERN}): ${JSON.stringify(node)}`)
  return node
}

export function agentUserName(node: string): string {
  return `${AGENT_USER_PREFIX}${checkedNode(node)}`
}

/** One grant of the agent user: commands allowed on some keys (none: on no key), and why. */
export interface AgentGrant {
  /** Key patterns with their access: `W` write only, `RW` read and write. */
  keys: { pattern: string; access: 'W' | 'RW' }[]
  commands: string[]
  why: string
}

/** The agent user's grants, each key with exactly the commands the agent runs on it. */
export function agentGrants(node: string): AgentGrant[] {
  const k = nodeKeys(checkedNode(node))
  return [
    {
      keys: [],
      commands: ['ping', 'client|setname', 'time'],
      why: 'keyless: the liveness probe, naming its connection, and the server clock',
    },
    {
      keys: [{ pattern: FLEET_NODES_KEY, access: 'W' }],
      commands: ['sadd'],
      why: 'announcing itself in the registry at start (write only: it cannot list the other nodes)',
    },
    {
      keys: [{ pattern: k.status, access: 'W' }],
      commands: ['set'],
      why: 'its heartbeat status (SET ... EX)',
    },
    {
      keys: [
        { pattern: k.events, access: 'W' },
        { pattern: k.offline, access: 'W' },
      ],
      commands: ['xadd'],
      why: 'its engine events, and the actions it took while cut off (write only: it cannot read the controller group)',
    },
    {
      keys: [{ pattern: k.requests, access: 'RW' }],
      commands: ['xgroup|create', 'xreadgroup', 'xack', 'xautoclaim'],
      why: 'reading its requests through the group `agent`: create it, read new and pending, acknowledge, reclaim stuck ones',
    },
    {
      keys: [
        { pattern: k.claim('*'), access: 'RW' },
        { pattern: k.result('*'), access: 'RW' },
        { pattern: k.position, access: 'RW' },
      ],
      commands: ['set', 'get'],
      why: 'taking a request once (SET NX), keeping and rereading its answer, and its position in the engine stream',
    },
    {
      keys: [{ pattern: k.reply('*'), access: 'W' }],
      commands: ['lpush', 'expire'],
      why: "answering a request on the list its requester waits on, with a TTL (write only: it cannot read others' replies)",
    },
  ]
}

/**
 * The ACL SETUSER rules of node's agent user (no password). `reset` first, so that applying them to
 * an existing user replaces its every earlier rule and password instead of adding to them.
 */
export function agentAclRules(node: string): string[] {
  const rules = ['reset', 'on', 'resetchannels', 'resetkeys', '-@all']
  for (const grant of agentGrants(node)) {
    const commands = grant.commands.map((c) => `+${c}`)
    if (grant.keys.length === 0) {
      rules.push(...commands)
      continue
    }
    const keys = grant.keys.map((key) => `${key.access === 'W' ? '%W~' : '~'}${key.pattern}`)
    rules.push(`(${[...keys, ...commands].join(' ')})`)
  }
  return rules
}

/**
 * An error of a command that carried the password: ioredis hangs the command's arguments on its
 * errors (`err.command.args`), so the original must not travel on, where a caller may log it whole.
 */
function withoutSecret(err: unknown, secret: string, what: string): Error {
  const message = String((err as Error)?.message ?? err)
    .split(secret)
    .join('[password]')
  return new Error(`${what}: ${message}`)
}

/**
 * Creates node's agent user, or replaces its rules and password (the old password stops working;
 * connections already logged in keep their session). The password travels only inside the ACL
 * SETUSER command (Redis redacts its arguments in SLOWLOG and MONITOR) and is never logged.
 */
export async function createAgentUser(
  redis: Redis,
  node: string,
  password: string,
): Promise<{ user: string; created: boolean }> {
  const user = agentUserName(node)
  if (typeof password !== 'string' || password.length === 0) throw new Error('the agent password is empty')
  const existing = await redis.call('ACL', 'GETUSER', user)
  try {
    await redis.call('ACL', 'SETUSER', user, ...agentAclRules(node), `>${password}`)
  } catch (err) {
    throw withoutSecret(err, password, `ACL SETUSER ${user} failed`)
  }
  return { user, created: existing === null }
}

/** Deletes node's agent user (Redis closes its open connections); false when there was none. */
export async function deleteAgentUser(redis: Redis, node: string): Promise<boolean> {
  return Number(await redis.call('ACL', 'DELUSER', agentUserName(node))) > 0
}

/**
 * Writes the users to Redis's ACL file (`aclfile`), so that they outlive a restart of Redis. False
 * when Redis has no ACL file: its users then live in memory (or in redis.conf after CONFIG REWRITE).
 */
export async function saveAclFile(redis: Redis): Promise<boolean> {
  try {
    await redis.call('ACL', 'SAVE')
    return true
  } catch (err) {
    if (/not configured to use an ACL file/i.test((err as Error).message)) return false
    throw err
  }
}
