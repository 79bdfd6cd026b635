//! The fake hook tools (filled in by the tools work).
