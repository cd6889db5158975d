/**
 * npm run keys [-- --file PATH] [--role ROLE]... [--rotate]
 *
 * Makes API keys, prints them once, and records only their SHA-256 digests in the key file
 * (default <DATA_DIR>/api-keys.json, mode 0600). The first run makes one key per role
 * (admin, operator, viewer). Later runs need --role (add a key for that role) or --rotate
 * (replace the keys of the given roles, or of every role).
 */
import path from 'node:path'
import { parseArgs } from 'node:util'
import { defaultKeyFile, issueKeys, KeyConfigError } from '../src/platform/auth/keys'
import { ROLES, isRole, type Role } from '../src/platform/auth/roles'

function usage(): string {
  return [
    'usage: npm run keys -- [--file PATH] [--role ROLE]... [--rotate]',
    `  --file PATH   key file (default <DATA_DIR>/api-keys.json)`,
    `  --role ROLE   only this role (${ROLES.join(', ')}); repeat or comma-separate for several`,
    '  --rotate      replace the existing keys of the chosen roles (all roles without --role)',
  ].join('\n')
}

async function dataDir(): Promise<string> {
  // Only DATA_DIR matters here, so read it the way the config does without validating the rest.
  const { parseDotEnv } = await import('../src/platform/config/index')
  const { existsSync, readFileSync } = await import('node:fs')
  const envFile = path.join(process.cwd(), '.env')
  const fromFile = existsSync(envFile) ? parseDotEnv(readFileSync(envFile, 'utf8')) : {}
  return process.env.DATA_DIR || fromFile.DATA_DIR || '.data'
}

async function main(): Promise<number> {
  let args
  try {
    args = parseArgs({
      options: { file: { type: 'string' }, role: { type: 'string', multiple: true }, rotate: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h' } },
      allowPositionals: false,
    })
  } catch (err) {
    console.error(`${(err as Error).message}\n${usage()}`)
    return 2
  }
  if (args.values.help) {
    console.log(usage())
    return 0
  }
  const roles: Role[] = []
  for (const r of (args.values.role ?? []).flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean)) {
    if (!isRole(r)) {
      console.error(`--role: "${r}" is not a role; expected one of ${ROLES.join(', ')}`)
      return 2
    }
    roles.push(r)
  }
  const file = path.resolve(args.values.file ?? defaultKeyFile(await dataDir()))
  try {
    const { issued, removed } = issueKeys({ file, roles, rotate: args.values.rotate })
    console.log(`Wrote ${issued.length} new key(s) to ${file} (only their SHA-256 digests are stored).`)
    if (removed.length) console.log(`Revoked ${removed.length} old key(s): ${removed.map((k) => `${k.id} (${k.role})`).join(', ')}`)
    console.log('Copy the keys now: they are not shown again.\n')
    for (const k of issued) console.log(`${k.role.padEnd(9)} ${k.id}  ${k.key}`)
    console.log('\nSend one as "Authorization: Bearer <key>" or "X-API-Key: <key>". Sentinel reads the change on its next request.')
    return 0
  } catch (err) {
    if (err instanceof KeyConfigError) {
      console.error(err.message)
      return 1
    }
    throw err
  }
}

process.exitCode = await main()
