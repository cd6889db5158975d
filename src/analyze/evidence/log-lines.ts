/**
 * What log lines say, by pattern: an error at all, a bad configuration, an unreachable dependency,
 * a port in use, a slow upstream. The gathering keeps the lines that match any of them (so a
 * telling line older than the kept tail is not lost), and the fault rules read them with the same
 * patterns, so what is kept and what is judged cannot drift apart.
 */
import { redact } from '../../platform/telemetry/redact'
import { CAPS } from './types'

export const ERROR_LINE =
  /\b(error|fatal|panic|exception|traceback|out of memory|oom|killed|segmentation fault|refused|timed? ?out|cannot|failed)\b/i

export const LOG_PATTERNS = {
  bad_config: [
    /\bmissing (?:required )?(?:env(?:ironment)? )?(?:variable|var|setting|config(?:uration)?|option)\b/i,
    /\b(?:env(?:ironment)? )?variable [`'"]?[A-Z][A-Z0-9_]*[`'"]? (?:is )?(?:not set|unset|required|missing|undefined|empty)/i,
    /\b[A-Z][A-Z0-9_]{2,} (?:is )?(?:not set|must be set|is required|required but not set)\b/,
    /\binvalid (?:config(?:uration)?|setting|option|value for)\b/i,
    /\b(?:config(?:uration)?|settings?) (?:error|invalid|is invalid|could not be (?:parsed|loaded|read))\b/i,
    /\b(?:config(?:uration)? file|\S+\.(?:conf|cfg|ya?ml|json|toml|ini|env)):? (?:not found|no such file|missing)/i,
    /no such file or directory.*\.(?:conf|cfg|ya?ml|json|toml|ini|env)\b/i,
    /\bunknown (?:option|flag|directive|setting|config(?:uration)? key)\b/i,
    /\b(?:yaml|json|toml|config(?:uration)?) (?:parse|syntax) error\b/i,
    /\bKeyError: ['"][A-Z][A-Z0-9_]*['"]/,
    // "config: missing SMTP_RELAY_HOST", "missing DATABASE_URL in environment": a variable-like name
    // (capitals with an underscore) said to be missing, on a line about configuration or the environment.
    /^(?=.*(?:\b[Cc]onfig|\bCONFIG|\b[Ee]nv(?:ironment)?\b|\bENV\b|\b[Vv]ariable|\bVARIABLE|\b[Ss]etting|\bSETTING)).*\b[Mm]issing(?: (?:required|mandatory))?(?: (?:env(?:ironment)?|config(?:uration)?|variable|var|setting|key|value)s?)?[:=]?\s+[`'"]?[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b/,
    // "SMTP_RELAY_HOST missing", "DATABASE_URL is missing from the environment".
    /\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+[`'"]? (?:is )?missing\b/,
  ],
  dependency_unreachable: [
    /\bconnection refused\b/i,
    /\bECONNREFUSED\b/,
    /\b(?:ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH)\b/,
    /\bgetaddrinfo\b/i,
    /\bname or service not known\b/i,
    /\btemporary failure in name resolution\b/i,
    /\bno such host\b/i,
    /\bcould not resolve(?: host)?\b/i,
    /\bno route to host\b/i,
    /\bnetwork is unreachable\b/i,
    /\b(?:could not|can't|cannot|unable to|failed to) connect to\b.*\b(?:refused|unreachable|timed? ?out|resolve)/i,
    // DNS: busybox's "bad address 'db:5432'" (quoted: a bare "Bad address" is EFAULT), the resolver's NXDOMAIN.
    /\bbad address ['"`][^'"`\s]+/i,
    /\bNXDOMAIN\b/,
    // A connection that was never answered (a connect timeout, not a slow answer): "Connection timed
    // out" (ETIMEDOUT), Go's "dial tcp ...: i/o timeout" and "connect: connection timed out", Node's
    // "connect ETIMEDOUT". A read that timed out ("read tcp ...: i/o timeout", "Read timed out") is
    // a slow dependency, not an unreachable one, and does not match.
    /\bconnection timed out\b/i,
    /\bdial (?:tcp|udp)[46]?\b.*\bi\/o timeout\b/i,
    /\bconnect ETIMEDOUT\b/,
    /\b(?:upstream|dependency|database|db|backend|broker|cache)\b[^.;]{0,60}\bunreachable\b/i,
  ],
  port_in_use: [
    /\baddress already in use\b/i,
    /\bEADDRINUSE\b/,
    /\bport (?:\S+ )?is already (?:allocated|in use)\b/i,
    /\bbind(?:ing)?\b.*\b(?:failed|error)\b.*\bin use\b/i,
    /\bonly one usage of each socket address\b/i,
  ],
  slow_upstream: [
    /\b(?:upstream|downstream|backend|dependency|database|db) (?:timed? ?out|slow|latency)\b/i,
    /\b(?:request|query|call) (?:to \S+ )?took \d+ ?(?:ms|s)\b/i,
    /\bdeadline exceeded\b/i,
    /\bslow (?:query|request|response)\b/i,
  ],
} as const

export type LogKind = keyof typeof LOG_PATTERNS

export const matchesKind = (line: string, kind: LogKind): boolean => LOG_PATTERNS[kind].some((re) => re.test(line))

/** A line worth keeping beyond the tail: an error, or one a fault rule reads. */
export function tellingLine(line: string): boolean {
  return ERROR_LINE.test(line) || (Object.keys(LOG_PATTERNS) as LogKind[]).some((k) => matchesKind(line, k))
}

const clip = (l: string) => redact(l).slice(0, CAPS.logLineChars)

/** The evidence record's log section from a raw tail: the newest lines and the telling ones, redacted and capped. */
export function logSection(text: string): { lines: string[]; errorLines: string[]; linesRead: number } {
  const all = text
    .split('\n')
    .map((l) => l.replace(/\r$/, '').trimEnd())
    .filter(Boolean)
  return {
    lines: all.slice(-CAPS.logLines).map(clip),
    errorLines: all.filter(tellingLine).slice(-CAPS.errorLines).map(clip),
    linesRead: all.length,
  }
}
