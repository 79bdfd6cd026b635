//! Upgrade core (placeholder).
