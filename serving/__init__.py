"""serving: the BentoML service that answers clienteling apps from the champion models."""
