"""Built-in plugin package xai_eval_excitation (placeholder until its issue lands)."""
