import type { NoopConfig } from 'motia'
import { TOPICS } from '../../src/platform/events/topics'

// The Docker event watcher and the container fast path run in the main process (a step process
// cannot hold a stream open); this node shows them in the Workbench where they sit in the flow.
export const config = {
  type: 'noop',
  name: 'DockerEventWatcher',
  description: 'Main process: follows Docker events; a watched container dies → incident → policy → restart now',
  virtualSubscribes: [],
  virtualEmits: [TOPICS.acted, TOPICS.approvalRequested, TOPICS.opened],
  flows: ['sentinel'],
} satisfies NoopConfig
