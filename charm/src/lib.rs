//! MySQL charm library (placeholder).

pub mod workload;
