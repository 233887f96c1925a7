"""Honest baselines every backtest reports beside the project's models."""
