/**
 * API keys: where they come from and how they are kept. Only SHA-256 digests are held in memory
 * or written to disk; the plain key is shown once when it is made (`npm run keys`).
 *
 * Sources, merged:
 *  - `SENTINEL_API_KEYS`: comma-separated `role:key` pairs, e.g. `admin:snl_admin_...,viewer:...`.
 *  - the key file (default `<DATA_DIR>/api-keys.json`), written by `npm run keys`.
 */
import { createHash, randomBytes } from 'node:crypto'
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { ROLES, isRole, type Role } from './roles'

export const MIN_KEY_LENGTH = 24
export const KEY_FILE_VERSION = 1
export const ENV_VAR = 'SENTINEL_API_KEYS'

export interface KeyEntry {
  id: string
  role: Role
  /** SHA-256 digest of the key, 32 bytes. */
  digest: Buffer
  source: 'env' | 'file'
  createdAt?: string
}

export interface KeyStore {
  entries: KeyEntry[]
  /** Problems that do not stop the start (a key file readable by others...). */
  warnings: string[]
}

export interface KeyFileRecord {
  id: string
  role: Role
  sha256: string
  createdAt: string
}

export interface KeyFile {
  version: number
  keys: KeyFileRecord[]
}

export class KeyConfigError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'KeyConfigError'
  }
}

export const sha256 = (key: string): Buffer => createHash('sha256').update(key, 'utf8').digest()

// Keys travel in HTTP headers: printable ASCII without spaces or the separators of our own syntax.
const KEY_CHARS = /^[A-Za-z0-9_\-.~+/=]+$/

/** Parses `SENTINEL_API_KEYS`. Throws KeyConfigError naming the variable and the bad entry. */
export function parseApiKeysEnv(value: string | undefined, varName = ENV_VAR): KeyEntry[] {
  if (value === undefined || value.trim() === '') return []
  const out: KeyEntry[] = []
  const seen = new Set<string>()
  const parts = value.split(',')
  parts.forEach((raw, i) => {
    const where = `${varName}: entry ${i + 1} of ${parts.length}`
    const part = raw.trim()
    if (part === '') throw new KeyConfigError(`${where} is empty (remove the extra comma)`)
    const colon = part.indexOf(':')
    if (colon < 0) throw new KeyConfigError(`${where} must be role:key with role one of ${ROLES.join(', ')}`)
    const role = part.slice(0, colon).trim()
    const key = part.slice(colon + 1).trim()
    // Never echo the key itself in an error: it may be a real secret with a typo.
    if (!isRole(role))
      throw new KeyConfigError(`${where} has role "${role.slice(0, 20)}"; expected one of ${ROLES.join(', ')}`)
    if (key.length < MIN_KEY_LENGTH)
      throw new KeyConfigError(
        `${where} (${role}) has a key of ${key.length} characters; keys must be at least ${MIN_KEY_LENGTH} (generate them with npm run keys)`,
      )
    if (!KEY_CHARS.test(key))
      throw new KeyConfigError(
        `${where} (${role}) has a key with characters other than letters, digits and - _ . ~ + / =`,
      )
    const digest = sha256(key)
    const hex = digest.toString('hex')
    if (seen.has(hex)) throw new KeyConfigError(`${where} (${role}) repeats a key given earlier`)
    seen.add(hex)
    out.push({ id: `env-${hex.slice(0, 10)}`, role, digest, source: 'env' })
  })
  return out
}

/** Makes a new key: `snl_<role>_` and 32 random bytes in base64url. */
export function generateKey(role: Role): string {
  return `snl_${role}_${randomBytes(32).toString('base64url')}`
}

export const newKeyId = () => `key_${randomBytes(6).toString('hex')}`

/** Reads and checks a key file. Missing file → null. Throws KeyConfigError on a malformed file. */
export function readKeyFile(file: string): KeyFile | null {
  if (!existsSync(file)) return null
  let data: unknown
  try {
    data = JSON.parse(readFileSync(file, 'utf8'))
  } catch (err) {
    throw new KeyConfigError(`API key file ${file} is not valid JSON: ${(err as Error).message}`)
  }
  const bad = (what: string) => new KeyConfigError(`API key file ${file}: ${what}`)
  if (!data || typeof data !== 'object' || Array.isArray(data))
    throw bad('expected an object with "version" and "keys"')
  const obj = data as Record<string, unknown>
  if (obj.version !== KEY_FILE_VERSION)
    throw bad(`unsupported version ${JSON.stringify(obj.version)} (expected ${KEY_FILE_VERSION})`)
  if (!Array.isArray(obj.keys)) throw bad('"keys" must be an array')
  const ids = new Set<string>()
  const keys = obj.keys.map((k, i): KeyFileRecord => {
    const r = k as Record<string, unknown>
    if (!r || typeof r !== 'object') throw bad(`keys[${i}] is not an object`)
    if (typeof r.id !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(r.id))
      throw bad(`keys[${i}].id must be 1-64 letters, digits, - or _`)
    if (ids.has(r.id)) throw bad(`keys[${i}].id "${r.id}" is repeated`)
    ids.add(r.id)
    if (!isRole(r.role)) throw bad(`keys[${i}].role must be one of ${ROLES.join(', ')}`)
    if (typeof r.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(r.sha256))
      throw bad(`keys[${i}].sha256 must be 64 lowercase hex digits`)
    if (typeof r.createdAt !== 'string' || Number.isNaN(Date.parse(r.createdAt)))
      throw bad(`keys[${i}].createdAt must be an ISO time`)
    return { id: r.id, role: r.role, sha256: r.sha256, createdAt: r.createdAt }
  })
  return { version: KEY_FILE_VERSION, keys }
}

/** Writes the key file with mode 0600 (through a temporary file, so a reader never sees half of it). */
export function writeKeyFile(file: string, content: KeyFile): void {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 })
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`
  writeFileSync(tmp, `${JSON.stringify(content, null, 2)}\n`, { mode: 0o600, flag: 'wx' })
  chmodSync(tmp, 0o600)
  renameSync(tmp, file)
}

export const defaultKeyFile = (dataDir: string) => path.join(dataDir, 'api-keys.json')

export interface LoadKeysOptions {
  /** The value of SENTINEL_API_KEYS. */
  envValue?: string
  /** The key file; read when it exists. */
  file?: string
  /** keyStoreLoader only: how often to look at the file for changes (default KEY_FILE_RECHECK_MS). */
  recheckMs?: number
}

/** Builds the key store from both sources. Throws KeyConfigError on any malformed source. */
export function loadKeyStore(opts: LoadKeysOptions): KeyStore {
  const warnings: string[] = []
  const entries = parseApiKeysEnv(opts.envValue)
  if (opts.file) {
    const kf = readKeyFile(opts.file)
    if (kf) {
      const mode = statSync(opts.file).mode & 0o777
      if (mode & 0o077) warnings.push(`API key file ${opts.file} has mode ${mode.toString(8)}; run chmod 600 on it`)
      for (const k of kf.keys)
        entries.push({
          id: k.id,
          role: k.role,
          digest: Buffer.from(k.sha256, 'hex'),
          source: 'file',
          createdAt: k.createdAt,
        })
    }
  }
  if (entries.length === 0) {
    warnings.push(`no API keys are configured (set ${ENV_VAR} or run npm run keys): every API request will be refused`)
  }
  return { entries, warnings }
}

export interface IssuedKey {
  id: string
  role: Role
  key: string
  createdAt: string
}

export interface IssueKeysOptions {
  file: string
  /** Roles to make keys for; every role when empty. */
  roles?: Role[]
  /** Replace the existing keys of those roles instead of adding to them. */
  rotate?: boolean
  now?: Date
}

/**
 * Makes keys and records their digests in the key file. A first run makes one key per role.
 * Afterwards it refuses unless told what to do: `roles` adds keys, `rotate` replaces them.
 * Returns the plain keys, which exist nowhere else.
 */
export function issueKeys(opts: IssueKeysOptions): { issued: IssuedKey[]; removed: KeyFileRecord[]; file: string } {
  const existing = readKeyFile(opts.file)
  const explicitRoles = opts.roles && opts.roles.length > 0
  const roles = explicitRoles ? [...new Set(opts.roles)] : [...ROLES]
  if (existing && existing.keys.length > 0 && !explicitRoles && !opts.rotate) {
    throw new KeyConfigError(
      `${opts.file} already holds ${existing.keys.length} key(s); use --rotate to replace them, or --role <role> to add a key`,
    )
  }
  const createdAt = (opts.now ?? new Date()).toISOString()
  const kept: KeyFileRecord[] = []
  const removed: KeyFileRecord[] = []
  for (const k of existing?.keys ?? []) (opts.rotate && roles.includes(k.role) ? removed : kept).push(k)
  const issued: IssuedKey[] = roles.map((role) => ({ id: newKeyId(), role, key: generateKey(role), createdAt }))
  const records = [
    ...kept,
    ...issued.map((k) => ({ id: k.id, role: k.role, sha256: sha256(k.key).toString('hex'), createdAt })),
  ]
  writeKeyFile(opts.file, { version: KEY_FILE_VERSION, keys: records })
  return { issued, removed, file: opts.file }
}

/** How often the key file is looked at for changes. */
export const KEY_FILE_RECHECK_MS = 1000

/**
 * A key store that re-reads the key file when it changes (checked by a stat at most once a
 * second), so that `npm run keys --rotate` takes effect without a restart. SENTINEL_API_KEYS is
 * parsed once.
 */
export function keyStoreLoader(opts: LoadKeysOptions): () => KeyStore {
  let stamp = ''
  let store: KeyStore | undefined
  parseApiKeysEnv(opts.envValue) // fail at creation on a bad variable, not on the first request
  let checkedAt = -Infinity
  return () => {
    // A stat per request was a measurable share of a fast API call; a second's delay before a
    // rotated or revoked key takes effect is not.
    if (store && Date.now() - checkedAt < (opts.recheckMs ?? KEY_FILE_RECHECK_MS)) return store
    checkedAt = Date.now()
    let now = 'absent'
    if (opts.file) {
      try {
        const st = statSync(opts.file)
        now = `${st.mtimeMs}:${st.size}:${st.ino}`
      } catch {
        now = 'absent'
      }
    }
    if (!store || now !== stamp) {
      store = loadKeyStore(opts)
      stamp = now
    }
    return store
  }
}
