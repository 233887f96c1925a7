"""Evaluation metrics: next-purchase scores and forecast accuracy, each in its own module."""
