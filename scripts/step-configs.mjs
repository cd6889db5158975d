/**
 * Motia's step registry (its LockedData), filled in this process. Motia's own generateLockedData
 * reads each step's config by starting a Node process for the file (get-config: import it, turn
 * its zod schemas into JSON Schema, send the config back over IPC): about 0.3 s a step, 11 s of
 * every start with 36 steps, and every test that starts a Sentinel paid it. The configs are the
 * same objects read here through jiti, converted the same way: schemas through Motia's own
 * schemaToJsonSchema (a schema it cannot convert, such as a transform, stops the start as it does
 * in Motia), and a JSON round trip that drops what Motia's IPC drops (functions, undefined).
 *
 * Only TypeScript and JavaScript steps and no stream files: a project with anything else returns
 * null and the launcher uses Motia's collector.
 */
import { randomUUID } from 'node:crypto'
import { existsSync, readdirSync } from 'node:fs'
import path from 'node:path'
import { LockedData, Printer } from '@motiadev/core'
import { schemaToJsonSchema } from '../node_modules/@motiadev/core/dist/src/schema-utils.mjs'

const filesIn = (dir, pattern) =>
  existsSync(dir)
    ? readdirSync(dir, { recursive: true })
        .map(String)
        .filter((f) => pattern.test(f) && !f.split(path.sep).includes('node_modules'))
        .sort()
        .map((f) => path.join(dir, f))
    : []

/** The config as Motia's get-config hands it over: schemas as JSON Schema, JSON-serialisable. */
export function motiaStepConfig(config) {
  const out = { ...config }
  for (const key of ['input', 'bodySchema', 'schema']) {
    if (out[key]) out[key] = schemaToJsonSchema(out[key]) ?? out[key]
  }
  if (out.responseSchema) {
    out.responseSchema = Object.fromEntries(
      Object.entries(out.responseSchema).map(([status, schema]) => [status, schemaToJsonSchema(schema) ?? schema]),
    )
  }
  if (typeof out.canAccess === 'function') {
    out.__motia_hasCanAccess = true
    delete out.canAccess
  }
  return JSON.parse(JSON.stringify(out))
}

/**
 * The registry with every step of `projectDir`, or null when the project has files this reader
 * does not handle (streams, Python or Ruby steps).
 */
export async function lockedDataInProcess({ projectDir, streamAdapter, redisClient, streamAuth, jiti }) {
  const roots = [path.join(projectDir, 'steps'), path.join(projectDir, 'src')]
  const others = roots.flatMap((d) =>
    filesIn(d, /(\.stream\.(ts|js|rb)|_stream\.(ts|js|py|rb)|_step\.(py|rb)|\.step\.(py|rb))$/),
  )
  if (others.length) return null
  const stepFiles = roots.flatMap((d) => filesIn(d, /(\.step\.(ts|js)|_step\.(ts|js))$/))
  const lockedData = new LockedData(projectDir, streamAdapter, new Printer(projectDir), redisClient)
  lockedData.setStreamAuthConfig(streamAuth)
  const version = `${randomUUID()}:${Math.floor(Date.now() / 1000)}`
  for (const filePath of stepFiles) {
    let config
    try {
      const mod = await jiti.import(filePath)
      config = mod.config ?? mod.default?.config
      if (!config) {
        console.warn(`No config found in step ${filePath}, step skipped`)
        continue
      }
      config = motiaStepConfig(config)
    } catch (err) {
      throw new Error(`Error collecting flow ${path.relative(projectDir, filePath)}: ${err?.message ?? err}`)
    }
    lockedData.createStep({ filePath, version, config }, { disableTypeCreation: true })
  }
  lockedData.saveTypes()
  return lockedData
}
