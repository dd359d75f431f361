"""Built-in plugin package xai_eval_datasets (placeholder until its issue lands)."""
