"""The R1 stage: rejection sampling with the RL rewards and readability filters, SFT on what was kept, the
whole pipeline."""
