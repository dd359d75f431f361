"""Built-in plugin package xai_eval_localization_metrics (placeholder until its issue lands)."""
