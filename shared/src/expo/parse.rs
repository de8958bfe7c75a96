//! Parser for the Prometheus text format 0.0.4 (script output, textfiles, tests).
//! OWNER: the script-exporter work item. Placeholder until it lands.
