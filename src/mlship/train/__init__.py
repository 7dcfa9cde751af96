"""Training: a model's data, its fitted pipeline, its evaluation, and the cache that names
each trained model by the fingerprint of everything that went into it."""
