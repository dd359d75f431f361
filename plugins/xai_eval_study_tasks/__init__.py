"""Built-in plugin package xai_eval_study_tasks (placeholder until its issue lands)."""
