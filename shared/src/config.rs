//! YAML config loading with precise errors. OWNER: the config work item. Placeholder.
