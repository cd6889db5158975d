// node-cron is the scheduler Motia runs cron steps with (a dependency of @motiadev/core); it ships
// no types. Only its validator is used: what it refuses, Motia never schedules.
declare module 'node-cron' {
  const cron: { validate(expression: string): boolean }
  export default cron
}
