"""The coaching cycle: comments and bookmarks at a moment of a call, the agent's
acknowledgement, manual QA overrides with a reason, and the supervisor's queue of calls
that need attention. Business rules live here; the web and CLI layers only call them."""
