/**
 * NODE_COMMANDS: the named diagnostic commands an admin may run inside a watched container on a
 * node (src/fleet/commands.ts), validated with the rest of the configuration at start.
 *
 * A JSON object from a name to its argv, `{"disk-usage":["du","-sh","/var/log"],"ps":["ps"]}`, or
 * to `{"argv":[...],"timeoutSeconds":N}` for a deadline other than the default. Only argv, never a
 * shell string: the command is handed to the Docker exec API as its Cmd, word for word, so nothing
 * in a request can add an argument or a pipe. The controller checks names against its own list;
 * each agent runs only what its own list says (a request carries the name, never the argv).
 */

/** A command's name: what the API and the audit log call it. */
export const NODE_COMMAND_NAME_PATTERN = /^[a-z0-9](?:[a-z0-9-]{0,62})$/

// Bounds: a typo or a pasted file must not become a thousand commands or a megabyte of argv.
export const MAX_NODE_COMMANDS = 50
export const MAX_ARGV_ITEMS = 64
export const MAX_ARG_LENGTH = 1024
export const DEFAULT_COMMAND_TIMEOUT_SECONDS = 30
export const MAX_COMMAND_TIMEOUT_SECONDS = 600

export interface NodeCommand {
  name: string
  argv: string[]
  timeoutSeconds: number
}

export type NodeCommands = Readonly<Record<string, NodeCommand>>

const fail = (message: string): never => {
  throw new Error(`NODE_COMMANDS: ${message}`)
}

function parseArgv(name: string, value: unknown): string[] {
  if (!Array.isArray(value) || value.length === 0)
    return fail(`"${name}": expected a non-empty array of strings (argv, e.g. ["du","-sh","/var/log"])`)
  if (value.length > MAX_ARGV_ITEMS) return fail(`"${name}": at most ${MAX_ARGV_ITEMS} arguments`)
  value.forEach((arg, i) => {
    if (typeof arg !== 'string' || arg.length === 0) fail(`"${name}": argument ${i} is not a non-empty string`)
    if ((arg as string).length > MAX_ARG_LENGTH)
      fail(`"${name}": argument ${i} is longer than ${MAX_ARG_LENGTH} characters`)
    // A NUL cannot travel in an argv; refusing it here keeps the agent's check of its own process exact.
    if ((arg as string).includes('\0')) fail(`"${name}": argument ${i} holds a NUL character`)
  })
  return [...(value as string[])]
}

function parseOne(name: string, value: unknown): NodeCommand {
  if (!NODE_COMMAND_NAME_PATTERN.test(name))
    fail(`"${name}" is not a command name (lowercase letters, digits and dashes, up to 63, not starting with a dash)`)
  if (Array.isArray(value))
    return { name, argv: parseArgv(name, value), timeoutSeconds: DEFAULT_COMMAND_TIMEOUT_SECONDS }
  if (value && typeof value === 'object') {
    const { argv, timeoutSeconds, ...rest } = value as Record<string, unknown>
    const extra = Object.keys(rest)
    if (extra.length) fail(`"${name}": unknown field ${extra.map((k) => `"${k}"`).join(', ')} (argv, timeoutSeconds)`)
    let timeout = DEFAULT_COMMAND_TIMEOUT_SECONDS
    if (timeoutSeconds !== undefined) {
      if (
        typeof timeoutSeconds !== 'number' ||
        !Number.isInteger(timeoutSeconds) ||
        timeoutSeconds < 1 ||
        timeoutSeconds > MAX_COMMAND_TIMEOUT_SECONDS
      )
        fail(`"${name}": timeoutSeconds must be a whole number from 1 to ${MAX_COMMAND_TIMEOUT_SECONDS}`)
      timeout = timeoutSeconds as number
    }
    return { name, argv: parseArgv(name, argv), timeoutSeconds: timeout }
  }
  return fail(`"${name}": expected an argv array or {"argv":[...],"timeoutSeconds":N}`)
}

/** Parses NODE_COMMANDS; unset or empty: no command at all. Throws `NODE_COMMANDS: <what is wrong>`. */
export function parseNodeCommands(text: string | undefined): NodeCommands {
  const raw = (text ?? '').trim()
  if (raw === '') return {}
  let parsed: unknown
  try {
    parsed = JSON.parse(raw)
  } catch {
    return fail('not JSON: expected an object such as {"disk-usage":["du","-sh","/var/log"],"ps":["ps"]}')
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed))
    return fail('expected a JSON object from command names to argv arrays')
  const entries = Object.entries(parsed as Record<string, unknown>)
  if (entries.length > MAX_NODE_COMMANDS) fail(`at most ${MAX_NODE_COMMANDS} commands, got ${entries.length}`)
  const out: Record<string, NodeCommand> = {}
  for (const [name, value] of entries) out[name] = parseOne(name, value)
  return Object.freeze(out)
}

/** The command of that name, if configured (own properties only: `constructor` is no command). */
export function findNodeCommand(commands: NodeCommands, name: string): NodeCommand | undefined {
  return Object.prototype.hasOwnProperty.call(commands, name) ? commands[name] : undefined
}

/** The configured names, sorted (for the 400 that names the known ones). */
export function nodeCommandNames(commands: NodeCommands): string[] {
  return Object.keys(commands).sort()
}
