/**
 * Removes secrets and personal data from text before it leaves the machine (the LLM prompt,
 * container logs, labels). Over-redaction is preferred to a leak: a false positive costs the
 * model a little context, a false negative leaks a credential to a third party.
 */

export const REDACTED = '[REDACTED]'
export const REDACTED_EMAIL = '[EMAIL]'

/** Names whose value is a secret wherever they appear as `name=value`, `name: value` or JSON. */
const SECRET_NAME =
  '[A-Za-z0-9_.-]*?(?:password|passwd|passphrase|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key|credentials?|auth[_-]?key)'

interface Rule {
  name: string
  pattern: RegExp
  replace: string | ((match: string, ...groups: string[]) => string)
}

const RULES: Rule[] = [
  {
    name: 'private-key-block',
    pattern: /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)/g,
    replace: REDACTED,
  },
  // scheme://user:pass@host — the whole credential part goes, the scheme and host stay for context.
  {
    name: 'url-credentials',
    pattern: /\b([a-zA-Z][a-zA-Z0-9+.-]*:\/\/)[^\s/@:'"`]*:[^\s@'"`/?#]*@/g,
    replace: (_m, scheme: string) => `${scheme}${REDACTED}@`,
  },
  // JSON / YAML / dict style: "password": "value" (quoted value, any quote style).
  {
    name: 'quoted-secret-field',
    pattern: new RegExp(`((["'])${SECRET_NAME}\\2\\s*[:=]\\s*)(["'])(?:\\\\.|(?!\\3)[^\\\\])*\\3`, 'gi'),
    replace: (_m, head: string, _q: string, quote: string) => `${head}${quote}${REDACTED}${quote}`,
  },
  // key=value, key: value, key="value with spaces" (env files, query strings, log lines), also
  // inside JSON that was already serialised once (\"password\": \"x\").
  {
    name: 'secret-assignment',
    pattern: new RegExp(
      `(\\b${SECRET_NAME}(?:\\\\?["'])?\\s*(?:=|:(?!//))\\s*)(\\\\"(?:[^"\\\\]|\\\\[^"])*\\\\"|"[^"]*"|'[^']*'|[^\\s&,;"'<>]+)`,
      'gi',
    ),
    replace: (match, head: string, value: string) => {
      if (value.includes(REDACTED)) return match
      const quote = value.startsWith('\\"') ? '\\"' : value.startsWith('"') ? '"' : value.startsWith("'") ? "'" : ''
      return `${head}${quote}${REDACTED}${quote}`
    },
  },
  {
    name: 'authorization-header',
    pattern: /\b((?:proxy-)?authorization["']?\s*[:=]\s*["']?)(?:(?:Bearer|Basic|Token|Digest)\s+)?[^\s"',;]+/gi,
    replace: (_m, head: string) => `${head}${REDACTED}`,
  },
  { name: 'bearer-token', pattern: /\bBearer\s+[A-Za-z0-9._~+/=-]{8,}/gi, replace: `Bearer ${REDACTED}` },
  { name: 'jwt', pattern: /\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g, replace: REDACTED },
  // OpenRouter (sk-or-v1-...), OpenAI (sk-..., sk-proj-...), Anthropic (sk-ant-...).
  { name: 'sk-key', pattern: /\bsk-[A-Za-z0-9_-]{16,}/g, replace: REDACTED },
  { name: 'slack-token', pattern: /\bxox[abposr]-[A-Za-z0-9-]{8,}/g, replace: REDACTED },
  { name: 'slack-app-token', pattern: /\bxapp-[A-Za-z0-9-]{8,}/g, replace: REDACTED },
  { name: 'aws-access-key', pattern: /\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/g, replace: REDACTED },
  {
    name: 'github-token',
    pattern: /\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,})/g,
    replace: REDACTED,
  },
  { name: 'google-api-key', pattern: /\bAIza[0-9A-Za-z_-]{35}\b/g, replace: REDACTED },
  {
    name: 'email',
    pattern: /[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b/g,
    replace: REDACTED_EMAIL,
  },
]

/** The text with every secret and e-mail address replaced by a placeholder. */
export function redact(text: string): string {
  let out = text
  for (const rule of RULES) {
    // Two calls, one per overload of String.prototype.replace (a union matches neither).
    out =
      typeof rule.replace === 'string'
        ? out.replace(rule.pattern, rule.replace)
        : out.replace(rule.pattern, rule.replace)
  }
  return out
}

const SECRET_KEY = new RegExp(`^${SECRET_NAME}$`, 'i')

/** True when an object key names a secret (its value is dropped whatever it looks like). */
export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key) || /^authorization$/i.test(key) || /^cookie$/i.test(key)
}

/**
 * A deep copy of `value` with every string redacted, and the values of secret-named keys
 * replaced. Keys themselves are redacted too (a label key can carry an e-mail address).
 */
export function redactDeep<T>(value: T): T {
  return walk(value, 0) as T
}

function walk(value: unknown, depth: number): unknown {
  if (depth > 32) return REDACTED
  if (typeof value === 'string') return redact(value)
  if (Array.isArray(value)) return value.map((v) => walk(v, depth + 1))
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      const key = redact(k)
      out[key] =
        isSecretKey(k) && v !== null && v !== undefined && typeof v !== 'object' ? REDACTED : walk(v, depth + 1)
    }
    return out
  }
  return value
}
