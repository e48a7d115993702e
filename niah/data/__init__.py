"""Datasets: haystacks, needles, distractors, the grid, and the dataset dir (write and read)."""
