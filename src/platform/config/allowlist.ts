/** KILL_PROCESS_ALLOWLIST: which command lines kill_process may end (validated with the rest at start). */

/**
 * KILL_PROCESS_ALLOWLIST: a JSON array of regexes (`["^python3 /opt/jobs/", "stress-ng"]`), or
 * regexes separated by newlines or commas (use the JSON form for a regex holding a comma).
 */
export function parseAllowlist(text: string | undefined): RegExp[] {
  const raw = (text ?? '').trim()
  if (raw === '') return []
  let sources: string[]
  if (raw.startsWith('[')) {
    let parsed: unknown
    try {
      parsed = JSON.parse(raw)
    } catch {
      throw new Error('KILL_PROCESS_ALLOWLIST: starts with [ but is not a JSON array of strings')
    }
    if (!Array.isArray(parsed) || !parsed.every((s) => typeof s === 'string'))
      throw new Error('KILL_PROCESS_ALLOWLIST: expected a JSON array of strings')
    sources = parsed as string[]
  } else {
    sources = raw.split(/[\n,]/)
  }
  return sources
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => {
      try {
        return new RegExp(s)
      } catch (err) {
        throw new Error(`KILL_PROCESS_ALLOWLIST: invalid regex "${s}": ${(err as Error).message}`)
      }
    })
}
