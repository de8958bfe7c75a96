//! Prometheus and Pushgateway on free loopback ports. OWNER: the push work item.
