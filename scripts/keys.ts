/**
 * npm run keys [-- --file PATH] [--role ROLE]... [--rotate]
 * npm run keys -- --help   (or: npm run keys help)
 *
 * Makes API keys, prints them once, and records only their SHA-256 digests in the key file
 * (default API_KEYS_FILE, else <DATA_DIR>/api-keys.json, as Sentinel reads them; mode 0600). The
 * first run makes one key per role (admin, operator, viewer). Later runs need --role (add a key for
 * that role) or --rotate (replace the keys of the given roles, or of every role).
 *
 * The "--" matters: npm keeps the flags before it for itself (`npm run keys --help` prints npm's
 * help; `npm run keys --rotate` runs this script with no flag). A flag npm kept is noticed here
 * (npm passes it on as npm_config_<name>) and refused with the command to type instead.
 * Exit codes: 0 done, 1 the key file refused the change, 2 a bad command line.
 */
import path from 'node:path'
import { parseArgs } from 'node:util'
import { defaultKeyFile, issueKeys, KeyConfigError } from '../src/platform/auth/keys'
import { ROLES, isRole, type Role } from '../src/platform/auth/roles'

function usage(): string {
  return [
    'usage: npm run keys -- [--file PATH] [--role ROLE]... [--rotate]',
    '       npm run keys -- --help   (or: npm run keys help)',
    '',
    'Makes API keys, prints them once and stores only their SHA-256 digests. The first run makes',
    'one key per role; later runs need --role (add a key) or --rotate (replace keys).',
    '',
    '  --file PATH   key file (default: API_KEYS_FILE, else <DATA_DIR>/api-keys.json)',
    `  --role ROLE   only this role (${ROLES.join(', ')}); repeat or comma-separate for several`,
    '  --rotate      replace the existing keys of the chosen roles (all roles without --role)',
    '  -h, --help    this text',
    '',
    'Put "--" between `npm run keys` and the flags: without it npm keeps them for itself.',
  ].join('\n')
}

const fail = (message: string): number => {
  console.error(`keys: ${message}\nRun \`npm run keys -- --help\` for the usage.`)
  return 2
}

/** The flags npm kept for itself (they come before "--"): npm hands them on as npm_config_<name>. */
function flagsNpmKept(env: NodeJS.ProcessEnv = process.env): string[] {
  if (env.npm_lifecycle_event !== 'keys') return []
  return ['file', 'role', 'rotate', 'help']
    .filter((name) => env[`npm_config_${name}`] !== undefined && env[`npm_config_${name}`] !== '')
    .map((name) => `--${name}`)
}

async function defaultFile(): Promise<string> {
  // Where Sentinel looks (API_KEYS_FILE, else DATA_DIR/api-keys.json), read the way the config
  // does (the environment over .env) without validating the rest of the configuration.
  const { readEnvironment } = await import('../src/platform/config/index')
  const raw = readEnvironment(process.env, process.cwd())
  const pick = (name: string) => (raw[name] ?? '').trim()
  return pick('API_KEYS_FILE') || defaultKeyFile(pick('DATA_DIR') || '.data')
}

async function main(): Promise<number> {
  const kept = flagsNpmKept()
  if (kept.length) {
    return fail(
      `npm kept ${kept.join(' ')} for itself (flags before "--" go to npm, not to this script): type \`npm run keys -- ${kept.join(' ')} ...\``,
    )
  }
  let args
  try {
    args = parseArgs({
      options: {
        file: { type: 'string' },
        role: { type: 'string', multiple: true },
        rotate: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: true,
      strict: true,
    })
  } catch (err) {
    const e = err as Error & { code?: string }
    const flag = /'([^']+)'/.exec(e.message)?.[1]
    if (e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && flag) return fail(`unknown option ${flag}`)
    if (e.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && flag && /argument missing/.test(e.message))
      return fail(`option ${flag.split(' ')[0]} needs a value`)
    if (e.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && flag && /does not take an argument/.test(e.message))
      return fail(`option ${flag} takes no value`)
    return fail(e.message)
  }
  if (args.values.help || (args.positionals.length === 1 && args.positionals[0] === 'help')) {
    console.log(usage())
    return 0
  }
  if (args.positionals.length)
    return fail(`unexpected argument ${JSON.stringify(args.positionals[0])} (flags start with --)`)
  const roles: Role[] = []
  for (const r of (args.values.role ?? [])
    .flatMap((v) => v.split(','))
    .map((v) => v.trim())
    .filter(Boolean)) {
    if (!isRole(r)) return fail(`--role: "${r}" is not a role; expected one of ${ROLES.join(', ')}`)
    roles.push(r)
  }
  const file = path.resolve(args.values.file ?? (await defaultFile()))
  try {
    const { issued, removed } = issueKeys({ file, roles, rotate: args.values.rotate })
    console.log(`Wrote ${issued.length} new key(s) to ${file} (only their SHA-256 digests are stored).`)
    if (removed.length)
      console.log(`Revoked ${removed.length} old key(s): ${removed.map((k) => `${k.id} (${k.role})`).join(', ')}`)
    console.log('Copy the keys now: they are not shown again.\n')
    for (const k of issued) console.log(`${k.role.padEnd(9)} ${k.id}  ${k.key}`)
    console.log(
      '\nSend one as "Authorization: Bearer <key>" or "X-API-Key: <key>". Sentinel reads the change on its next request.',
    )
    return 0
  } catch (err) {
    if (err instanceof KeyConfigError) {
      // Its advice names the flags; through npm they need the "--" in front.
      console.error(`${err.message}\n(through npm: npm run keys -- --rotate, or npm run keys -- --role <role>)`)
      return 1
    }
    throw err
  }
}

process.exitCode = await main()
