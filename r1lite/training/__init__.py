"""The R1-Zero stage: GRPO through R1ZeroTrainer (TRL's GRPOTrainer plus small hooks), its callbacks,
saving, the TRL contract."""
