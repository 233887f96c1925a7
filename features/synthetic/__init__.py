"""A synthetic luxury maison that follows the data contract, for demos, tests and benchmarks.

``generate_maison(out_dir, MaisonConfig(clients=..., boutiques=..., years=..., seed=...))``
writes the seven contract tables (Parquet) with learnable structure: buy-till-you-die clients
with rituals and travel, seasonal and holiday-driven footfall with sensor gaps, walk-ins,
returns, events and daily FX rates.
"""

from features.synthetic.config import MaisonConfig
from features.synthetic.maison import ensure_maison, generate_maison
from features.synthetic.summary import GenerationSummary

__all__ = ["GenerationSummary", "MaisonConfig", "ensure_maison", "generate_maison"]
