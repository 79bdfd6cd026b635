//! juju-log logger (placeholder).
