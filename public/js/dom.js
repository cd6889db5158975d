/*
 * Safe DOM building. Every piece of data goes into the page through textContent and attributes
 * (el()), never through innerHTML, so titles, logs and analyses cannot inject markup. Every other
 * module builds its elements with this one function.
 */

export const $ = (id) => document.getElementById(id)

/** Builds an element; strings in children become text nodes, never markup. */
export function el(tag, attrs, ...children) {
  const node = document.createElement(tag)
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue
      if (k === 'class') node.className = v
      else if (k === 'text') node.textContent = String(v)
      else if (k.startsWith('on') && typeof v === 'function') node.addEventListener(k.slice(2), v)
      else if (k === 'style' && typeof v === 'object') Object.assign(node.style, v)
      else node.setAttribute(k, v === true ? '' : String(v))
    }
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue
    node.append(c instanceof Node ? c : document.createTextNode(String(c)))
  }
  return node
}

export const clear = (node) => {
  while (node.firstChild) node.removeChild(node.firstChild)
}

/** A transient message in the corner. */
export function toast(message, kind) {
  const t = el('div', { class: `toast ${kind || ''}`, role: kind === 'error' ? 'alert' : 'status' }, message)
  $('toasts').append(t)
  setTimeout(() => t.remove(), kind === 'error' ? 8000 : 4000)
}

/** Saves a Blob as a file the browser downloads (an export, a postmortem). */
export function downloadBlob(blob, filename) {
  const url = URL.createObjectURL(blob)
  const a = el('a', { href: url, download: filename, hidden: true })
  document.body.append(a)
  a.click()
  a.remove()
  // The click has started the download; the object URL is only needed until then.
  setTimeout(() => URL.revokeObjectURL(url), 10_000)
}
