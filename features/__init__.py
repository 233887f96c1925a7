"""features: read, validate and normalise the unified purchase history; compute point-in-time
client and boutique features; materialise the online snapshot. Knows nothing of models."""
