"""The project's default random seed, in the first stage so that every stage can share it.

One value seeds the demo maison, sampling and model training unless the settings
(``CLIENTCAST_SEED``, ``--seed``) say otherwise; ``clientcast.settings`` re-exports it.
"""

DEFAULT_SEED = 7
