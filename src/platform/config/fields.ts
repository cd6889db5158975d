/**
 * The kinds of value an environment variable holds, as zod schemas over the raw text. Every one
 * treats unset and empty alike (the default), and a bad value is an issue naming what was expected
 * and what was given; the variable's name is added by the loader.
 */
import { z } from 'zod'

const TRUE = ['true', '1', 'yes', 'on']
const FALSE = ['false', '0', 'no', 'off']

/** true/false, 1/0, yes/no, on/off (any case); empty: the fallback. */
export const bool = (fallback: boolean) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      const t = (v ?? '').trim().toLowerCase()
      if (t === '') return fallback
      if (TRUE.includes(t)) return true
      if (FALSE.includes(t)) return false
      ctx.addIssue({ code: 'custom', message: `expected true or false, got "${v}"` })
      return z.NEVER
    })

/** A whole number within [min, max]. */
export const int = (fallback: number, min: number, max: number) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === '') return fallback
      const n = Number(v)
      if (!Number.isInteger(n) || n < min || n > max) {
        ctx.addIssue({ code: 'custom', message: `expected a whole number from ${min} to ${max}, got "${v}"` })
        return z.NEVER
      }
      return n
    })

/** A number within [min, max]. */
export const num = (fallback: number, min: number, max: number) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === '') return fallback
      const n = Number(v)
      if (!Number.isFinite(n) || n < min || n > max) {
        ctx.addIssue({ code: 'custom', message: `expected a number from ${min} to ${max}, got "${v}"` })
        return z.NEVER
      }
      return n
    })

/** Text, trimmed; empty: the fallback. */
export const text = (fallback: string) =>
  z
    .string()
    .optional()
    .transform((v) => (v === undefined || v.trim() === '' ? fallback : v.trim()))

/** Text, trimmed; empty: undefined. */
export const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()))

/** A secret of at least `min` characters; empty: undefined. */
export const optionalSecret = (min: number, hint = '') =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      const t = (v ?? '').trim()
      if (t === '') return undefined
      if (t.length < min) {
        ctx.addIssue({ code: 'custom', message: `expected at least ${min} characters${hint}` })
        return z.NEVER
      }
      return t
    })

/** An http(s) URL without trailing slashes; empty: undefined. */
export const optionalUrl = z
  .string()
  .optional()
  .transform((v, ctx) => {
    if (v === undefined || v.trim() === '') return undefined
    try {
      const u = new URL(v.trim())
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('protocol')
      return v.trim().replace(/\/+$/, '')
    } catch {
      ctx.addIssue({ code: 'custom', message: `expected an http(s) URL, got "${v}"` })
      return z.NEVER
    }
  })

/** Comma-separated items, trimmed, empty ones dropped. */
export const splitList = (v: string) =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)

/** A comma-separated list; unset or empty: the fallback. */
export const list = (fallback: readonly string[] = []) =>
  z
    .string()
    .optional()
    .transform((v) => (v === undefined || v.trim() === '' ? [...fallback] : splitList(v)))

/**
 * A value read by a parser that throws naming the variable (`NAME: ...`); the name is taken off,
 * since the loader adds it.
 */
export const parsed = <T>(name: string, parse: (value: string | undefined) => T) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      try {
        return parse(v === undefined || v.trim() === '' ? undefined : v)
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message.replace(new RegExp(`^${name}: `), '') })
        return z.NEVER
      }
    })
