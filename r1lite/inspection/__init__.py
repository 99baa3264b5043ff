"""Reading runs: behaviour metrics, the rollout log as a DataFrame, reports and summaries."""
