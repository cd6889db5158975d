// Node 20's test runner only discovers *.test.{js,mjs,cjs} files in a directory, so
// `npx tsx --test src/anomaly/` finds this shim, which loads the TypeScript tests
// (tsx compiles them). `npx tsx --test src/anomaly/*.test.ts` runs them directly.
import './detector.test.ts'
