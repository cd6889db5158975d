/** Slack settings as the configuration reads them: SLACK_USER_ROLES and SLACK_API_URL. */
import { ROLES, isRole, type Role } from '../auth/roles'

export const SLACK_DEFAULT_API_URL = 'https://slack.com/api/'

export class SlackConfigError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'SlackConfigError'
  }
}

// Slack user ids: U... for users, W... for Enterprise Grid users.
const USER_ID = /^[UW][A-Z0-9]{2,20}$/

/** Parses `U123:admin,U456:operator` (SLACK_USER_ROLES). Throws SlackConfigError naming the variable. */
export function parseSlackUserRoles(value: string | undefined, varName = 'SLACK_USER_ROLES'): Record<string, Role> {
  const out: Record<string, Role> = {}
  if (value === undefined || value.trim() === '') return out
  const parts = value.split(',')
  parts.forEach((raw, i) => {
    const where = `${varName}: entry ${i + 1} of ${parts.length}`
    const part = raw.trim()
    if (!part) throw new SlackConfigError(`${where} is empty (remove the extra comma)`)
    const m = /^([^:]+):([^:]+)$/.exec(part)
    if (!m) throw new SlackConfigError(`${where} ("${part}") must be <Slack user id>:<role>, e.g. U0123ABCD:operator`)
    const [user, role] = [m[1].trim(), m[2].trim()]
    if (!USER_ID.test(user))
      throw new SlackConfigError(
        `${where}: "${user}" is not a Slack user id (U or W followed by capital letters and digits)`,
      )
    if (!isRole(role)) throw new SlackConfigError(`${where}: role "${role}" must be one of ${ROLES.join(', ')}`)
    if (out[user] !== undefined) throw new SlackConfigError(`${where}: user ${user} is listed twice`)
    out[user] = role
  })
  return out
}

/** SLACK_API_URL as Slack's WebClient wants it: http(s), ending with a slash. */
export function normalizeApiUrl(apiUrl: string | undefined): string {
  const url = apiUrl?.trim() || SLACK_DEFAULT_API_URL
  let u: URL
  try {
    u = new URL(url)
  } catch {
    throw new SlackConfigError(`SLACK_API_URL: "${url}" is not a URL`)
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:')
    throw new SlackConfigError(`SLACK_API_URL: "${url}" must be http(s)`)
  // WebClient appends the method name to this URL, so it must end with a slash.
  return url.endsWith('/') ? url : `${url}/`
}
