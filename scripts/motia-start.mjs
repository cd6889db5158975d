// Runs `motia start`, but reports why a start failed: Motia's own CLI exits 1 without a word
// (for example when Redis is not reachable). Usage: node scripts/motia-start.mjs PORT HOST
import { start } from '../node_modules/motia/dist/start.mjs'

const [port = '3000', host = '127.0.0.1'] = process.argv.slice(2)
start(Number(port), host, false).catch((err) => {
  console.error(`Sentinel could not start: ${err?.message ?? err}`)
  process.exit(1)
})
