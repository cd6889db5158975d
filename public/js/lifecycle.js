/*
 * The incident lifecycle as the server defines it: statuses with their labels, groups and next
 * statuses. Generated from src/platform/store/lifecycle.ts by `npm run generate`: do not edit.
 */
export const LIFECYCLE = {
  "statuses": [
    {
      "id": "open",
      "label": "Open",
      "description": "detected; waiting for its analysis or decision",
      "group": "active",
      "terminal": false,
      "next": [
        "analyzing",
        "awaiting_approval",
        "remediating",
        "verifying",
        "escalated",
        "resolved",
        "suppressed"
      ]
    },
    {
      "id": "analyzing",
      "label": "Analysing",
      "description": "its root cause is being analysed (LLM or rules)",
      "group": "active",
      "terminal": false,
      "next": [
        "open",
        "awaiting_approval",
        "remediating",
        "verifying",
        "escalated",
        "resolved",
        "suppressed"
      ]
    },
    {
      "id": "awaiting_approval",
      "label": "Awaiting approval",
      "description": "the fix waits for an operator or an admin",
      "group": "needs_person",
      "terminal": false,
      "next": [
        "remediating",
        "escalated",
        "resolved",
        "suppressed"
      ]
    },
    {
      "id": "remediating",
      "label": "Remediating",
      "description": "the fix is running",
      "group": "active",
      "terminal": false,
      "next": [
        "verifying",
        "escalated",
        "resolved",
        "suppressed"
      ]
    },
    {
      "id": "verifying",
      "label": "Verifying",
      "description": "the fix ran (or none was needed); what raised the alert is checked again",
      "group": "active",
      "terminal": false,
      "next": [
        "escalated",
        "resolved",
        "suppressed"
      ]
    },
    {
      "id": "resolved",
      "label": "Resolved",
      "description": "the fix held, the alert cleared, or a person closed it",
      "group": "closed",
      "terminal": true,
      "next": []
    },
    {
      "id": "escalated",
      "label": "Escalated",
      "description": "left for an admin; it holds its problem until a person closes it or the alert clears",
      "group": "needs_person",
      "terminal": true,
      "next": [
        "resolved",
        "suppressed"
      ]
    },
    {
      "id": "suppressed",
      "label": "Suppressed",
      "description": "left alone: a container stopped or removed on purpose, or not watched",
      "group": "closed",
      "terminal": true,
      "next": []
    }
  ],
  "groups": [
    {
      "id": "active",
      "label": "Sentinel is on it",
      "description": "detected, being analysed, fixed or verified without a person",
      "statuses": [
        "open",
        "analyzing",
        "remediating",
        "verifying"
      ]
    },
    {
      "id": "needs_person",
      "label": "Needs a person",
      "description": "waiting for an approval, or escalated: nothing more runs by itself",
      "statuses": [
        "awaiting_approval",
        "escalated"
      ]
    },
    {
      "id": "closed",
      "label": "Closed",
      "description": "resolved or left alone on purpose; the problem may open a new incident",
      "statuses": [
        "resolved",
        "suppressed"
      ]
    }
  ],
  "stages": [
    "detected",
    "analyzed",
    "decided",
    "approval_requested",
    "approved",
    "rejected",
    "acted",
    "verified",
    "rolled_back",
    "resolved",
    "escalated",
    "suppressed",
    "acknowledged",
    "note"
  ]
}
