"""The countdown task: puzzles and their held-out split, prompts, data sets, held-out evaluation, the task record."""
