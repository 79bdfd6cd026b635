//! MySQL charm library (placeholder).
