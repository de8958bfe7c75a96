//! The services: [`sync`] keeps Grafana, the rules and the scrape targets in step with
//! the flow files; [`targets`] writes the file_sd lists.

pub mod sync;
pub mod targets;
