//! Dispatch context (placeholder).
