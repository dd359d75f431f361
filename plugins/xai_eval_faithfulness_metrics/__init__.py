"""Built-in plugin package xai_eval_faithfulness_metrics (placeholder until its issue lands)."""
