/*
 * An incident's timeline as a list, oldest first: the same markup in the live incident drawer and
 * on an archived incident's page, so a change of how a stage is shown is made once. `testid`
 * prefixes the test hooks (the two pages' tests tell the lists apart by it).
 */
import { el } from './dom.js'
import { fmtDateTime, titleCase } from './format.js'

export function sortedTimeline(entries) {
  return Array.isArray(entries) ? [...entries].sort((x, y) => Date.parse(x.at) - Date.parse(y.at)) : []
}

export function timelineList(entries, testid = 'timeline') {
  const tl = sortedTimeline(entries)
  if (!tl.length) return el('p', { class: 'muted' }, 'No timeline entries.')
  return el(
    'ol',
    { class: 'timeline', 'data-testid': testid },
    tl.map((t) =>
      el(
        'li',
        { 'data-stage': t.stage, 'data-testid': `${testid}-entry` },
        el(
          'div',
          { class: 'tl-head' },
          el('span', { class: 'tl-stage' }, titleCase(t.stage)),
          el('time', { class: 'tl-time', datetime: t.at }, fmtDateTime(t.at)),
          el('span', { class: 'tl-actor' }, t.actor),
        ),
        t.summary ? el('div', { class: 'tl-summary' }, t.summary) : null,
      ),
    ),
  )
}
