//! Flow config model. OWNER: the config work item. Placeholder.
