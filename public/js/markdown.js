/*
 * A small Markdown renderer for postmortems: headings, paragraphs, lists (one level of nesting),
 * fenced code, block quotes, pipe tables, rules, and inline code, bold, italics and links. Every
 * piece of text becomes a text node (el() in dom.js): a postmortem quotes logs, commands and LLM
 * output, and none of it may become markup. Links keep an http(s) address only; anything else is
 * shown as text. Enough for what Sentinel drafts, not a general Markdown implementation.
 */
import { el } from './dom.js'

const INLINE =
  /(`+)([^`]|[^`][\s\S]*?[^`])\1(?!`)|\*\*([^*]+)\*\*|__([^_]+)__|\*([^*\s][^*]*)\*|_([^_\s][^_]*)_|\[([^\]]+)\]\(([^)\s]+)\)/g

/** Inline Markdown as nodes: code, bold, italics, links; the rest as text. */
export function inline(text) {
  const out = []
  let last = 0
  const s = String(text)
  for (const m of s.matchAll(INLINE)) {
    if (m.index > last) out.push(s.slice(last, m.index))
    if (m[1]) out.push(el('code', null, m[2].trim() ? m[2].replace(/^ (.*) $/, '$1') : m[2]))
    else if (m[3] !== undefined || m[4] !== undefined) out.push(el('strong', null, ...inline(m[3] ?? m[4])))
    else if (m[5] !== undefined || m[6] !== undefined) out.push(el('em', null, ...inline(m[5] ?? m[6])))
    else if (/^https?:\/\//i.test(m[8]))
      out.push(el('a', { href: m[8], target: '_blank', rel: 'noopener noreferrer' }, ...inline(m[7])))
    else out.push(m[0])
    last = m.index + m[0].length
  }
  if (last < s.length) out.push(s.slice(last))
  return out
}

const splitRow = (line) =>
  line
    .trim()
    .replace(/^\|/, '')
    .replace(/\|$/, '')
    .split(/(?<!\\)\|/)
    .map((c) => c.trim().replace(/\\\|/g, '|'))

const LIST_ITEM = /^(\s*)([-*+]|\d{1,9}[.)])\s+(.*)$/
const isTableSep = (line) => /^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$/.test(line)

/** Markdown text as a <div class="md"> of safe elements. */
export function renderMarkdown(text) {
  const root = el('div', { class: 'md' })
  const lines = String(text ?? '')
    .replace(/\r\n?/g, '\n')
    .split('\n')
  let i = 0
  while (i < lines.length) {
    const line = lines[i]
    if (!line.trim()) {
      i++
      continue
    }
    const fence = /^\s*(```+|~~~+)\s*([\w+-]*)\s*$/.exec(line)
    if (fence) {
      const body = []
      i++
      while (i < lines.length && !lines[i].trim().startsWith(fence[1])) body.push(lines[i++])
      i++
      root.append(el('pre', null, el('code', { 'data-lang': fence[2] || null }, body.join('\n'))))
      continue
    }
    const heading = /^\s*(#{1,6})\s+(.*?)\s*#*\s*$/.exec(line)
    if (heading) {
      // A postmortem's `#` title sits under the page's own headings: shifted down one level.
      const level = Math.min(6, heading[1].length + 1)
      root.append(el(`h${level}`, null, ...inline(heading[2])))
      i++
      continue
    }
    if (/^\s*([-*_])(\s*\1){2,}\s*$/.test(line)) {
      root.append(el('hr'))
      i++
      continue
    }
    if (/^\s*>/.test(line)) {
      const body = []
      while (i < lines.length && /^\s*>/.test(lines[i])) body.push(lines[i++].replace(/^\s*>\s?/, ''))
      const quote = el('blockquote')
      quote.append(...renderMarkdown(body.join('\n')).childNodes)
      root.append(quote)
      continue
    }
    if (line.includes('|') && i + 1 < lines.length && isTableSep(lines[i + 1])) {
      const head = splitRow(line)
      i += 2
      const rows = []
      while (i < lines.length && lines[i].includes('|') && lines[i].trim()) rows.push(splitRow(lines[i++]))
      root.append(
        el(
          'div',
          { class: 'md-table' },
          el(
            'table',
            null,
            el(
              'thead',
              null,
              el(
                'tr',
                null,
                head.map((c) => el('th', null, ...inline(c))),
              ),
            ),
            el(
              'tbody',
              null,
              rows.map((r) =>
                el(
                  'tr',
                  null,
                  head.map((_, k) => el('td', null, ...inline(r[k] ?? ''))),
                ),
              ),
            ),
          ),
        ),
      )
      continue
    }
    const item = LIST_ITEM.exec(line)
    if (item) {
      i = list(lines, i, root)
      continue
    }
    // A paragraph: the lines up to a blank line or the start of another block.
    const para = []
    while (
      i < lines.length &&
      lines[i].trim() &&
      !/^\s*(#{1,6}\s|```|~~~|>)/.test(lines[i]) &&
      !LIST_ITEM.exec(lines[i]) &&
      !(lines[i].includes('|') && i + 1 < lines.length && isTableSep(lines[i + 1]))
    )
      para.push(lines[i++].trim())
    if (para.length) root.append(el('p', null, ...inline(para.join(' '))))
    else root.append(el('p', null, ...inline(lines[i++].trim())))
  }
  return root
}

/** A list starting at lines[i] (items indented further make one nested list); returns the next line. */
function list(lines, i, parent) {
  const first = LIST_ITEM.exec(lines[i])
  const indent = first[1].length
  const ordered = /\d/.test(first[2])
  // An item of the other kind (1. after -, or - after 1.) at this level starts a new list.
  const sameKind = (m) => /\d/.test(m[2]) === ordered
  const node = el(ordered ? 'ol' : 'ul')
  let current = null
  while (i < lines.length) {
    const line = lines[i]
    if (!line.trim()) {
      // A blank line ends the list unless another item of it follows.
      const next = lines[i + 1]
      const m = next !== undefined && LIST_ITEM.exec(next)
      if (m && (m[1].length > indent || (m[1].length === indent && sameKind(m)))) {
        i++
        continue
      }
      break
    }
    const m = LIST_ITEM.exec(line)
    if (m && m[1].length > indent && current) {
      i = list(lines, i, current)
      continue
    }
    if (m && m[1].length === indent && sameKind(m)) {
      current = el('li', null, ...inline(m[3]))
      node.append(current)
      i++
      continue
    }
    if (!m && current && /^\s+\S/.test(line)) {
      // A continuation line of the item.
      current.append(' ', ...inline(line.trim()))
      i++
      continue
    }
    break
  }
  parent.append(node)
  return i
}
