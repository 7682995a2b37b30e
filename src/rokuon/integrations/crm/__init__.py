"""CRM/SFA activities: after a call is analysed, its activity (summary, QA score, flags,
a link to the call) is created or updated in Salesforce (a Task), HubSpot (a call
engagement) or kintone (an app record), through an outbox with retries
(docs/integrations.md). Targets and field mappings live in ``HOME/crm.yaml``."""
