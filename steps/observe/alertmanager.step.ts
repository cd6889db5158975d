import type { NoopConfig } from 'motia'
import { TOPICS } from '../../src/platform/events/topics'

// POST /api/alerts/alertmanager is served by the main process (src/app/http/alertmanager.ts): a storm of
// webhook calls must not cost a step process each. This node shows it in the Workbench.
export const config = {
  type: 'noop',
  name: 'AlertmanagerIntake',
  description:
    "Main process: Alertmanager's webhook (v4); firing alerts open or update incidents, resolved ones resolve them",
  virtualSubscribes: [],
  virtualEmits: [TOPICS.opened],
  flows: ['sentinel'],
} satisfies NoopConfig
