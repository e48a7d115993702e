"""Figures and tables: retrieval heatmaps, grids, tables, and RoPE figures drawn from the registry."""
