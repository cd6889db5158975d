/*
 * The parts of an analysis that explain it beyond its evidence lines: the cause it named, the
 * runbook it followed, the past incidents of the same resource it was told about, and the whole
 * evidence record gathered on the machine (the same record the LLM was given, already redacted
 * and bounded by the server). The record's shape belongs to the analyser (src/analyze/), so it is
 * shown source by source without assuming more than "an object of sources".
 */
import { el } from './dom.js'
import { fmtDateTime } from './format.js'

const h3 = (text) => el('h3', { style: { marginTop: '12px' } }, text)

function sourceBody(value) {
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value.join('\n')
  if (value && typeof value === 'object' && Array.isArray(value.lines)) return value.lines.join('\n')
  return typeof value === 'string' ? value : JSON.stringify(value, null, 2)
}

/** The runbook section: title, file, the action it prefers, and its text. */
export function runbookSection(runbook) {
  if (!runbook || typeof runbook !== 'object') return []
  return [
    h3('Runbook'),
    el(
      'div',
      { class: 'runbook', 'data-testid': 'analysis-runbook' },
      el(
        'p',
        null,
        el('strong', null, String(runbook.title ?? runbook.id)),
        ` (${String(runbook.path ?? runbook.id)})`,
      ),
      runbook.action
        ? el('p', null, `Prefers: ${runbook.action === 'none' ? 'no automatic fix' : runbook.action}`)
        : null,
      runbook.body ? el('pre', { class: 'runbook-body' }, String(runbook.body)) : null,
    ),
  ]
}

/** Past incidents of the same resource, each a link that opens it. */
export function similarSection(similar, open) {
  if (!Array.isArray(similar) || similar.length === 0) return []
  return [
    h3('Seen before'),
    el(
      'ul',
      { class: 'similar', 'data-testid': 'analysis-similar' },
      similar.map((p) =>
        el(
          'li',
          null,
          el(
            'a',
            {
              href: '#',
              'data-incident': p.id,
              onclick: (e) => {
                e.preventDefault()
                open(p.id)
              },
            },
            String(p.id),
          ),
          ` ${fmtDateTime(p.openedAt)}: ${p.type}${p.cause ? ` (${p.cause})` : ''}, ${p.status}`,
          p.fix ? `, after ${p.fix.action} (${p.fix.status})` : ', no fix ran',
          p.rootCause ? el('div', { class: 'muted' }, String(p.rootCause)) : null,
        ),
      ),
    ),
  ]
}

/** The whole evidence record, one collapsed block per source. */
export function evidenceRecordSection(record) {
  if (!record || typeof record !== 'object') return []
  const sources = Object.entries(record).filter(([, v]) => v !== undefined && v !== null)
  if (sources.length === 0) return []
  return [
    h3('Evidence gathered'),
    el(
      'div',
      { class: 'evidence-record', 'data-testid': 'analysis-evidence-record' },
      sources.map(([name, value]) =>
        el(
          'details',
          { 'data-source': name },
          el('summary', null, name),
          el('pre', { class: 'evidence-source' }, sourceBody(value)),
        ),
      ),
    ),
  ]
}
