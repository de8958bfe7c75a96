//! Pushgateway client and push loop. OWNER: the push work item. Placeholder until it lands.
