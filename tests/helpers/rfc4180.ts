/**
 * A strict RFC 4180 reader for tests of CSV exports: records end with CRLF (the last one too), a
 * field is either unquoted (no quote, CR or LF in it) or wholly in double quotes with a quote
 * inside written twice. Anything else throws, so a sloppy writer cannot pass by being read leniently.
 */
export function parseCsv(text: string): string[][] {
  const records: string[][] = []
  let record: string[] = []
  let i = 0
  const fail = (why: string) => {
    throw new Error(`CSV at ${i}: ${why}`)
  }
  while (i < text.length) {
    let field = ''
    if (text[i] === '"') {
      i++
      for (;;) {
        if (i >= text.length) fail('unterminated quoted field')
        if (text[i] === '"') {
          if (text[i + 1] === '"') {
            field += '"'
            i += 2
          } else {
            i++
            break
          }
        } else field += text[i++]
      }
      if (i < text.length && text[i] !== ',' && text[i] !== '\r') fail('text after a closing quote')
    } else {
      while (i < text.length && text[i] !== ',' && text[i] !== '\r') {
        if (text[i] === '"') fail('a quote in an unquoted field')
        if (text[i] === '\n') fail('a bare LF')
        field += text[i++]
      }
    }
    record.push(field)
    if (text[i] === ',') i++
    else if (text[i] === '\r') {
      if (text[i + 1] !== '\n') fail('CR without LF')
      i += 2
      records.push(record)
      record = []
    } else fail('no CRLF at the end of the last record')
  }
  if (record.length) fail('a record without its CRLF')
  return records
}
