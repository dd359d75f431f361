"""Built-in plugin package xai_eval_perturbation (placeholder until its issue lands)."""
