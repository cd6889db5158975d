/**
 * Regular expressions that people (not Sentinel's code) write: silence and route matchers sent
 * through the API, runbook wildcards. V8's usual engine backtracks, so one pattern such as
 * `(a+)+$` against a long label can hold the main process for minutes. These are compiled by V8's
 * linear-time engine instead (the `l` flag): time grows with the input's length only, like Go's
 * RE2 that Alertmanager uses, and what RE2 refuses (backreferences, lookarounds) is refused here
 * too, at parse time, with the reason.
 */
import v8 from 'node:v8'

let enabled = false

/**
 * Compiles `source` for the linear engine; throws a SyntaxError naming what cannot run in linear
 * time. No flags: the engine has no case-insensitive mode (lower-case both sides instead).
 */
export function linearRegExp(source: string): RegExp {
  if (!enabled) {
    // A V8 switch that only makes the `l` flag available; it changes no other expression.
    v8.setFlagsFromString('--enable-experimental-regexp-engine')
    enabled = true
  }
  // eslint-disable-next-line no-invalid-regexp -- `l` exists once the switch above is on
  return new RegExp(source, 'l')
}
