"""training: training frames, baselines, LightGBM models, Optuna tuning, backtests, MLflow."""
