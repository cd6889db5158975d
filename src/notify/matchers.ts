/**
 * Label matchers in Alertmanager's syntax (`severity="critical"`, `type=~"container_.*"`,
 * `node!="db-1"`, `container!~"test-.*"`), used by the routing file's routes and by silences, and
 * the labels an incident offers them. Regular expressions are anchored, as in Alertmanager, and run
 * in linear time (../platform/text/linear-regexp.ts): an operator's silence cannot stall the process.
 */
import { hostname } from 'node:os'
import { z } from 'zod'
import type { Incident } from '../platform/store/model'
import { linearRegExp } from '../platform/text/linear-regexp'

export interface Matcher {
  name: string
  value: string
  isRegex: boolean
  isEqual: boolean
}

const LABEL_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/
const MATCHER_TEXT = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*(?:"((?:[^"\\]|\\.)*)"|([^\s"]*))\s*$/

/** Parses `name="value"` (or `=~`, `!=`, `!~`; quotes optional); throws naming what is wrong. */
export function parseMatcher(text: string): Matcher {
  const m = MATCHER_TEXT.exec(text)
  if (!m)
    throw new Error(`matcher ${JSON.stringify(text)} is not name="value", name!="value", name=~"re" or name!~"re"`)
  const [, name, op, quoted, bare] = m
  const value = quoted !== undefined ? quoted.replace(/\\(.)/g, '$1') : (bare ?? '')
  return checked({ name, value, isRegex: op.includes('~'), isEqual: !op.startsWith('!') })
}

function checked(m: Matcher): Matcher {
  if (!LABEL_NAME.test(m.name)) throw new Error(`matcher label ${JSON.stringify(m.name)} is not a label name`)
  if (m.isRegex) {
    try {
      linearRegExp(`^(?:${m.value})$`)
    } catch (err) {
      throw new Error(
        `matcher ${m.name}: ${JSON.stringify(m.value)} is not a regular expression (${(err as Error).message})`,
      )
    }
  }
  return m
}

/** A matcher as text (`severity="critical"`) or as Alertmanager's API object. */
export const matcherSchema = z
  .union([
    z.string(),
    z
      .object({
        name: z.string(),
        value: z.string().max(1024),
        isRegex: z.boolean().default(false),
        isEqual: z.boolean().default(true),
      })
      .strict(),
  ])
  .transform((v, ctx): Matcher => {
    try {
      return typeof v === 'string' ? parseMatcher(v) : checked(v)
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message })
      return z.NEVER
    }
  })

const compiled = new Map<string, RegExp>()
function regex(value: string): RegExp {
  let re = compiled.get(value)
  if (!re) {
    re = linearRegExp(`^(?:${value})$`)
    if (compiled.size > 1000) compiled.clear()
    compiled.set(value, re)
  }
  return re
}

/** True when every matcher holds; a missing label reads as "" (so `node!="a"` matches it). */
export function matches(matchers: readonly Matcher[], labels: Readonly<Record<string, string>>): boolean {
  return matchers.every((m) => {
    const v = labels[m.name] ?? ''
    const hit = m.isRegex ? regex(m.value).test(v) : v === m.value
    return hit === m.isEqual
  })
}

export const formatMatcher = (m: Matcher): string =>
  `${m.name}${m.isRegex ? (m.isEqual ? '=~' : '!~') : m.isEqual ? '=' : '!='}${JSON.stringify(m.value)}`

/**
 * The labels routes and silences match: the alert's own labels, then Sentinel's (which win):
 * severity, type, status, node (the host the incident is about), container (its name, for a
 * container incident), resource, and test ("true" for a test incident).
 */
export function incidentLabels(incident: Incident): Record<string, string> {
  const a = incident.alert
  const node =
    a.labels.node ??
    a.labels.host ??
    a.labels.instance ??
    (incident.resource.kind === 'host' ? incident.resource.name : hostname())
  return {
    ...a.labels,
    severity: incident.severity,
    type: incident.type,
    status: incident.status,
    node,
    container: incident.resource.kind === 'container' ? incident.resource.name : (a.labels.container ?? ''),
    resource: incident.resource.name,
    test: incident.test ? 'true' : 'false',
  }
}
