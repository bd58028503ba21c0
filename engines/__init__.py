"""Engine adapters: one per backend, each yielding Arrow record batches."""
