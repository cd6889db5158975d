export { AnomalyDetector, DEFAULT_OPTIONS, evidenceFromWindow, normaliseOptions } from './detector'
export type { AnomalyEvidence, DetectorOptions, DetectorState } from './detector'
export { DetectorRegistry } from './registry'
export type { RegistryOptions, RegistryState } from './registry'
