/**
 * A message of the Docker Engine's event stream, as far as Sentinel reads it. Declared in the
 * platform so that the watcher (which reads the stream) and the dashboard's container feed need
 * not import the stage that acts on the events.
 */
export interface DockerEvent {
  Type: string
  Action: string
  Actor: { ID: string; Attributes?: Record<string, string> }
  time: number
  timeNano: number
}
