//! keepup-testkit (simulator follows).
